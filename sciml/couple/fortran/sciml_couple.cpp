// The C shim over libtorch: load a TorchScript closure exported by sciml.couple.export, check what a host
// passes against the shape and dtype recorded in the archive (sciml_spec.txt), run it, copy the result out.
#include "sciml_couple.h"

#include <torch/script.h>

#include <cstring>
#include <sstream>
#include <string>
#include <vector>

struct sciml_model {
  torch::jit::script::Module module;
  torch::Dtype dtype;
  std::vector<int64_t> shape;  // -1: any size
};

namespace {

int fail(int code, const std::string &text, char *message, int message_len) {
  if (message != nullptr && message_len > 0) {
    std::strncpy(message, text.c_str(), static_cast<size_t>(message_len - 1));
    message[message_len - 1] = '\0';
  }
  return code;
}

std::string first_line(const std::string &text) { return text.substr(0, text.find('\n')); }

std::string shape_text(const int64_t *shape, int ndim) {
  std::ostringstream out;
  out << "(";
  for (int i = 0; i < ndim; ++i) out << (i ? ", " : "") << shape[i];
  out << ")";
  return out.str();
}

}  // namespace

extern "C" int sciml_load(const char *path, sciml_model **model, char *message, int message_len) {
  *model = nullptr;
  if (path == nullptr) return fail(SCIML_ERR_LOAD, "no model path given", message, message_len);
  try {
    torch::jit::ExtraFilesMap extra{{"sciml_spec.txt", ""}};
    auto loaded = torch::jit::load(path, torch::kCPU, extra);
    const std::string spec = extra["sciml_spec.txt"];
    if (spec.empty())
      return fail(SCIML_ERR_LOAD, std::string(path) + ": not exported by sciml.couple.export (no sciml_spec.txt)",
                  message, message_len);
    auto *m = new sciml_model{std::move(loaded), torch::kFloat32, {}};
    const auto semicolon = spec.find(';');
    m->dtype = spec.substr(0, semicolon) == "float64" ? torch::kFloat64 : torch::kFloat32;
    std::stringstream dims(spec.substr(semicolon + 1));
    for (std::string d; std::getline(dims, d, ',');) m->shape.push_back(std::stoll(d));
    m->module.eval();
    *model = m;
    return SCIML_OK;
  } catch (const std::exception &e) {
    return fail(SCIML_ERR_LOAD, std::string("cannot load ") + path + ": " + first_line(e.what()), message,
                message_len);
  }
}

extern "C" int sciml_run(sciml_model *model, const void *state, const int64_t *shape, int ndim, int dtype,
                         void *tendency, char *message, int message_len) {
  if (model == nullptr) return fail(SCIML_ERR_INPUT, "no model loaded", message, message_len);
  if (state == nullptr || tendency == nullptr || shape == nullptr)
    return fail(SCIML_ERR_INPUT, "null state, tendency or shape", message, message_len);
  const torch::Dtype given = dtype == SCIML_FLOAT64 ? torch::kFloat64 : torch::kFloat32;
  if ((dtype != SCIML_FLOAT32 && dtype != SCIML_FLOAT64) || given != model->dtype)
    return fail(SCIML_ERR_INPUT,
                std::string("the model takes ") + (model->dtype == torch::kFloat64 ? "float64" : "float32") +
                    " (real(c_double) / real(c_float) in Fortran), got dtype code " + std::to_string(dtype),
                message, message_len);
  const int rank = static_cast<int>(model->shape.size());
  bool fits = ndim == rank;
  for (int i = 0; fits && i < ndim; ++i) fits = model->shape[i] == -1 || model->shape[i] == shape[i];
  if (!fits)
    return fail(SCIML_ERR_INPUT,
                "the model takes shape " + shape_text(model->shape.data(), rank) + " (C order, -1: any), got " +
                    shape_text(shape, ndim),
                message, message_len);
  try {
    torch::NoGradGuard no_grad;
    std::vector<int64_t> sizes(shape, shape + ndim);
    auto input = torch::from_blob(const_cast<void *>(state), sizes, torch::TensorOptions().dtype(given));
    auto output = model->module.forward({input}).toTensor().contiguous();
    if (output.sizes() != input.sizes() || output.scalar_type() != given)
      return fail(SCIML_ERR_RUN, "the model returned a tendency of another shape or dtype", message, message_len);
    std::memcpy(tendency, output.data_ptr(), static_cast<size_t>(output.numel()) * output.element_size());
    return SCIML_OK;
  } catch (const std::exception &e) {
    return fail(SCIML_ERR_RUN, std::string("the model failed: ") + first_line(e.what()), message, message_len);
  }
}

extern "C" void sciml_free(sciml_model *model) { delete model; }
