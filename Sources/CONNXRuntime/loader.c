// Opens ONNX Runtime with dlopen and asks it for its API table. Written for Iris.
#include "CONNXRuntime.h"

#include <dlfcn.h>
#include <stdio.h>

// OrtGetApiBase() returns a pointer to two function pointers, in this order.
typedef struct {
    const void *(*get_api)(uint32_t version);
    const char *(*get_version_string)(void);
} IrisOrtApiBase;

static const IrisOrtApiBase *loaded_base;

const IrisOrtApi *iris_ort_open(const char *path, char *error, size_t error_size) {
    void *library = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (library == NULL) {
        snprintf(error, error_size, "%s", dlerror());
        return NULL;
    }
    const IrisOrtApiBase *(*get_api_base)(void) = (const IrisOrtApiBase *(*)(void))dlsym(library, "OrtGetApiBase");
    if (get_api_base == NULL) {
        snprintf(error, error_size, "%s does not export OrtGetApiBase", path);
        return NULL;
    }
    const IrisOrtApiBase *base = get_api_base();
    const IrisOrtApi *api = (const IrisOrtApi *)base->get_api(IRIS_ORT_API_VERSION);
    if (api == NULL) {
        snprintf(error, error_size, "ONNX Runtime %s does not offer API version %d", base->get_version_string(),
                 IRIS_ORT_API_VERSION);
        return NULL;
    }
    __atomic_store_n(&loaded_base, base, __ATOMIC_RELEASE);
    return api;
}

const char *iris_ort_version(void) {
    const IrisOrtApiBase *base = __atomic_load_n(&loaded_base, __ATOMIC_ACQUIRE);
    return base == NULL ? NULL : base->get_version_string();
}
