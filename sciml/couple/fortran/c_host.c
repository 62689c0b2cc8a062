/* A C host: load an exported closure, apply it to two Lorenz96 states of K values, print the tendency.
 *   c_host MODEL.pt K        (the model must take float64 states of shape (-1, K)) */
#include <stdio.h>
#include <stdlib.h>

#include "sciml_couple.h"

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: c_host MODEL.pt K\n");
    return 2;
  }
  const int64_t K = atoll(argv[2]);
  char message[512];
  sciml_model *model = NULL;
  if (sciml_load(argv[1], &model, message, sizeof message) != SCIML_OK) {
    fprintf(stderr, "error: %s\n", message);
    return 1;
  }
  double *state = malloc(2 * K * sizeof *state), *tendency = malloc(2 * K * sizeof *tendency);
  for (int64_t i = 0; i < 2 * K; ++i) state[i] = (double)(i % K) - 0.5 * (double)K + (double)(i / K);
  const int64_t shape[2] = {2, K}; /* C order: batch, K */
  int status = sciml_run(model, state, shape, 2, SCIML_FLOAT64, tendency, message, sizeof message);
  if (status != SCIML_OK) fprintf(stderr, "error %d: %s\n", status, message);
  for (int64_t i = 0; status == SCIML_OK && i < 2 * K; ++i) printf("%.17g%c", tendency[i], (i + 1) % K ? ' ' : '\n');
  sciml_free(model);
  free(state);
  free(tendency);
  return status;
}
