/* sciml_couple: run an exported sciml closure (TorchScript) from C or Fortran through libtorch.
 *
 * Every call returns 0 on success and a non-zero code with a message (NUL-terminated, truncated to
 * message_len) on failure; nothing throws across the C boundary.
 *   SCIML_ERR_LOAD   the model file is missing or not a TorchScript closure
 *   SCIML_ERR_INPUT  wrong rank, shape or dtype for this model
 *   SCIML_ERR_RUN    the model raised while running
 * Shapes are C order (row-major); a Fortran array x(K, batch) is passed as shape {batch, K}.
 */
#ifndef SCIML_COUPLE_H
#define SCIML_COUPLE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { SCIML_OK = 0, SCIML_ERR_LOAD = 1, SCIML_ERR_INPUT = 2, SCIML_ERR_RUN = 3 };
enum { SCIML_FLOAT32 = 0, SCIML_FLOAT64 = 1 };

typedef struct sciml_model sciml_model;

/* Load an exported closure; *model is NULL on failure. */
int sciml_load(const char *path, sciml_model **model, char *message, int message_len);

/* tendency = closure(state): both of shape shape[0..ndim-1] and type dtype (SCIML_FLOAT32 / SCIML_FLOAT64). */
int sciml_run(sciml_model *model, const void *state, const int64_t *shape, int ndim, int dtype, void *tendency,
              char *message, int message_len);

/* Release a model (NULL is fine). */
void sciml_free(sciml_model *model);

#ifdef __cplusplus
}
#endif
#endif
