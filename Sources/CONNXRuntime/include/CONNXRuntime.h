// Iris's own declarations of the part of ONNX Runtime's C ABI that Iris calls.
//
// ONNX Runtime exposes one symbol, OrtGetApiBase(). It returns two functions: one that
// gives the version string, and one that returns the API table for a version: an array
// of C function pointers whose order is fixed and append-only across releases. Below are
// the slot numbers and C signatures of the entries Iris uses, written from the published
// order (facts); nothing of ONNX Runtime's header is copied. Every slot declared here is
// called by Tests/IrisMLTests/RuntimeABITests.swift against the real library.
//
// The environment and the CPU memory description live as long as the process, so their
// release slots are not declared.
//
// The library is opened with dlopen at run time (see `iris_ort_open`), so Iris builds
// without it and reports a clear error when it is missing.
#ifndef IRIS_CONNXRUNTIME_H
#define IRIS_CONNXRUNTIME_H

#include <stddef.h>
#include <stdint.h>

// Opaque ONNX Runtime objects; Iris only holds pointers to them.
typedef struct IrisOrtStatus IrisOrtStatus;
typedef struct IrisOrtEnv IrisOrtEnv;
typedef struct IrisOrtSession IrisOrtSession;
typedef struct IrisOrtSessionOptions IrisOrtSessionOptions;
typedef struct IrisOrtRunOptions IrisOrtRunOptions;  // always NULL: default run options
typedef struct IrisOrtValue IrisOrtValue;
typedef struct IrisOrtMemoryInfo IrisOrtMemoryInfo;
typedef struct IrisOrtTypeInfo IrisOrtTypeInfo;
typedef struct IrisOrtTensorInfo IrisOrtTensorInfo;
typedef struct IrisOrtAllocator IrisOrtAllocator;
typedef struct IrisOrtArenaCfg IrisOrtArenaCfg;      // always NULL: ORT's default arena

/// The API table: slot i is the i-th function pointer of ONNX Runtime's API struct.
typedef struct IrisOrtApi IrisOrtApi;

// Values of ONNX Runtime enums Iris passes or reads.
enum {
    IRIS_ORT_LOG_WARNING = 2,            // OrtLoggingLevel
    IRIS_ORT_LOG_ERROR = 3,
    IRIS_ORT_ARENA_ALLOCATOR = 1,        // OrtAllocatorType
    IRIS_ORT_MEM_DEFAULT = 0,            // OrtMemType
    IRIS_ORT_ENABLE_ALL = 99,            // GraphOptimizationLevel
    IRIS_ORT_FLOAT = 1,                  // ONNXTensorElementDataType
    IRIS_ORT_INT64 = 7,
};

// Slot numbers in the API table.
enum {
    IRIS_ORT_SLOT_GET_ERROR_CODE = 1,
    IRIS_ORT_SLOT_GET_ERROR_MESSAGE = 2,
    IRIS_ORT_SLOT_CREATE_ENV = 3,
    IRIS_ORT_SLOT_CREATE_SESSION = 7,
    IRIS_ORT_SLOT_RUN = 9,
    IRIS_ORT_SLOT_CREATE_SESSION_OPTIONS = 10,
    IRIS_ORT_SLOT_DISABLE_MEM_PATTERN = 17,
    IRIS_ORT_SLOT_SET_GRAPH_OPTIMIZATION_LEVEL = 23,
    IRIS_ORT_SLOT_SET_INTRA_OP_THREADS = 24,
    IRIS_ORT_SLOT_SET_INTER_OP_THREADS = 25,
    IRIS_ORT_SLOT_SESSION_INPUT_COUNT = 30,
    IRIS_ORT_SLOT_SESSION_OUTPUT_COUNT = 31,
    IRIS_ORT_SLOT_SESSION_INPUT_TYPE_INFO = 33,
    IRIS_ORT_SLOT_SESSION_OUTPUT_TYPE_INFO = 34,
    IRIS_ORT_SLOT_SESSION_INPUT_NAME = 36,
    IRIS_ORT_SLOT_SESSION_OUTPUT_NAME = 37,
    IRIS_ORT_SLOT_CREATE_TENSOR_WITH_DATA = 49,
    IRIS_ORT_SLOT_GET_TENSOR_MUTABLE_DATA = 51,
    IRIS_ORT_SLOT_CAST_TYPE_INFO_TO_TENSOR_INFO = 55,
    IRIS_ORT_SLOT_GET_TENSOR_ELEMENT_TYPE = 60,
    IRIS_ORT_SLOT_GET_DIMENSIONS_COUNT = 61,
    IRIS_ORT_SLOT_GET_DIMENSIONS = 62,
    IRIS_ORT_SLOT_GET_TENSOR_TYPE_AND_SHAPE = 65,
    IRIS_ORT_SLOT_CREATE_CPU_MEMORY_INFO = 69,
    IRIS_ORT_SLOT_ALLOCATOR_FREE = 76,
    IRIS_ORT_SLOT_GET_DEFAULT_ALLOCATOR = 78,
    IRIS_ORT_SLOT_RELEASE_STATUS = 93,
    IRIS_ORT_SLOT_RELEASE_SESSION = 95,
    IRIS_ORT_SLOT_RELEASE_VALUE = 96,
    IRIS_ORT_SLOT_RELEASE_TYPE_INFO = 98,
    IRIS_ORT_SLOT_RELEASE_TENSOR_INFO = 99,
    IRIS_ORT_SLOT_RELEASE_SESSION_OPTIONS = 100,
    IRIS_ORT_SLOT_ADD_SESSION_CONFIG_ENTRY = 130,
    IRIS_ORT_SLOT_CREATE_AND_REGISTER_ALLOCATOR = 144,
};

/// The API version Iris asks for; every slot above exists since version 16.
#define IRIS_ORT_API_VERSION 16

/// Opens the library at `path` and returns its API table, or NULL with a message in
/// `error` (dlopen's, or a missing symbol, or an unsupported version).
const IrisOrtApi *iris_ort_open(const char *path, char *error, size_t error_size);

/// The version string of the library `iris_ort_open` opened ("1.32.0"), or NULL.
const char *iris_ort_version(void);

// Each slot as a typed call. Status-returning calls give NULL on success.
#define IRIS_ORT_CALL(api, slot, type) ((type)(((void *const *)(api))[slot]))

static inline int iris_ort_error_code(const IrisOrtApi *api, const IrisOrtStatus *status) {
    return IRIS_ORT_CALL(api, IRIS_ORT_SLOT_GET_ERROR_CODE, int (*)(const IrisOrtStatus *))(status);
}
static inline const char *iris_ort_error_message(const IrisOrtApi *api, const IrisOrtStatus *status) {
    return IRIS_ORT_CALL(api, IRIS_ORT_SLOT_GET_ERROR_MESSAGE, const char *(*)(const IrisOrtStatus *))(status);
}
static inline IrisOrtStatus *iris_ort_create_env(const IrisOrtApi *api, int level, const char *name, IrisOrtEnv **out) {
    return IRIS_ORT_CALL(api, IRIS_ORT_SLOT_CREATE_ENV, IrisOrtStatus *(*)(int, const char *, IrisOrtEnv **))(level, name, out);
}
static inline IrisOrtStatus *iris_ort_create_session(const IrisOrtApi *api, const IrisOrtEnv *env, const char *path,
                                                     const IrisOrtSessionOptions *options, IrisOrtSession **out) {
    return IRIS_ORT_CALL(api, IRIS_ORT_SLOT_CREATE_SESSION,
                         IrisOrtStatus *(*)(const IrisOrtEnv *, const char *, const IrisOrtSessionOptions *, IrisOrtSession **))(
        env, path, options, out);
}
static inline IrisOrtStatus *iris_ort_run(const IrisOrtApi *api, IrisOrtSession *session, const IrisOrtRunOptions *options,
                                          const char *const *input_names, const IrisOrtValue *const *inputs, size_t input_count,
                                          const char *const *output_names, size_t output_count, IrisOrtValue **outputs) {
    return IRIS_ORT_CALL(api, IRIS_ORT_SLOT_RUN,
                         IrisOrtStatus *(*)(IrisOrtSession *, const IrisOrtRunOptions *, const char *const *,
                                            const IrisOrtValue *const *, size_t, const char *const *, size_t, IrisOrtValue **))(
        session, options, input_names, inputs, input_count, output_names, output_count, outputs);
}
static inline IrisOrtStatus *iris_ort_create_session_options(const IrisOrtApi *api, IrisOrtSessionOptions **out) {
    return IRIS_ORT_CALL(api, IRIS_ORT_SLOT_CREATE_SESSION_OPTIONS, IrisOrtStatus *(*)(IrisOrtSessionOptions **))(out);
}
static inline IrisOrtStatus *iris_ort_disable_mem_pattern(const IrisOrtApi *api, IrisOrtSessionOptions *options) {
    return IRIS_ORT_CALL(api, IRIS_ORT_SLOT_DISABLE_MEM_PATTERN, IrisOrtStatus *(*)(IrisOrtSessionOptions *))(options);
}
static inline IrisOrtStatus *iris_ort_set_optimization_level(const IrisOrtApi *api, IrisOrtSessionOptions *options, int level) {
    return IRIS_ORT_CALL(api, IRIS_ORT_SLOT_SET_GRAPH_OPTIMIZATION_LEVEL, IrisOrtStatus *(*)(IrisOrtSessionOptions *, int))(options, level);
}
static inline IrisOrtStatus *iris_ort_set_intra_op_threads(const IrisOrtApi *api, IrisOrtSessionOptions *options, int count) {
    return IRIS_ORT_CALL(api, IRIS_ORT_SLOT_SET_INTRA_OP_THREADS, IrisOrtStatus *(*)(IrisOrtSessionOptions *, int))(options, count);
}
static inline IrisOrtStatus *iris_ort_set_inter_op_threads(const IrisOrtApi *api, IrisOrtSessionOptions *options, int count) {
    return IRIS_ORT_CALL(api, IRIS_ORT_SLOT_SET_INTER_OP_THREADS, IrisOrtStatus *(*)(IrisOrtSessionOptions *, int))(options, count);
}
static inline IrisOrtStatus *iris_ort_add_session_config_entry(const IrisOrtApi *api, IrisOrtSessionOptions *options,
                                                                const char *key, const char *value) {
    return IRIS_ORT_CALL(api, IRIS_ORT_SLOT_ADD_SESSION_CONFIG_ENTRY,
                         IrisOrtStatus *(*)(IrisOrtSessionOptions *, const char *, const char *))(options, key, value);
}
static inline IrisOrtStatus *iris_ort_input_count(const IrisOrtApi *api, const IrisOrtSession *session, size_t *out) {
    return IRIS_ORT_CALL(api, IRIS_ORT_SLOT_SESSION_INPUT_COUNT, IrisOrtStatus *(*)(const IrisOrtSession *, size_t *))(session, out);
}
static inline IrisOrtStatus *iris_ort_output_count(const IrisOrtApi *api, const IrisOrtSession *session, size_t *out) {
    return IRIS_ORT_CALL(api, IRIS_ORT_SLOT_SESSION_OUTPUT_COUNT, IrisOrtStatus *(*)(const IrisOrtSession *, size_t *))(session, out);
}
static inline IrisOrtStatus *iris_ort_input_type_info(const IrisOrtApi *api, const IrisOrtSession *session, size_t index,
                                                      IrisOrtTypeInfo **out) {
    return IRIS_ORT_CALL(api, IRIS_ORT_SLOT_SESSION_INPUT_TYPE_INFO,
                         IrisOrtStatus *(*)(const IrisOrtSession *, size_t, IrisOrtTypeInfo **))(session, index, out);
}
static inline IrisOrtStatus *iris_ort_output_type_info(const IrisOrtApi *api, const IrisOrtSession *session, size_t index,
                                                       IrisOrtTypeInfo **out) {
    return IRIS_ORT_CALL(api, IRIS_ORT_SLOT_SESSION_OUTPUT_TYPE_INFO,
                         IrisOrtStatus *(*)(const IrisOrtSession *, size_t, IrisOrtTypeInfo **))(session, index, out);
}
static inline IrisOrtStatus *iris_ort_input_name(const IrisOrtApi *api, const IrisOrtSession *session, size_t index,
                                                 IrisOrtAllocator *allocator, char **out) {
    return IRIS_ORT_CALL(api, IRIS_ORT_SLOT_SESSION_INPUT_NAME,
                         IrisOrtStatus *(*)(const IrisOrtSession *, size_t, IrisOrtAllocator *, char **))(session, index, allocator, out);
}
static inline IrisOrtStatus *iris_ort_output_name(const IrisOrtApi *api, const IrisOrtSession *session, size_t index,
                                                  IrisOrtAllocator *allocator, char **out) {
    return IRIS_ORT_CALL(api, IRIS_ORT_SLOT_SESSION_OUTPUT_NAME,
                         IrisOrtStatus *(*)(const IrisOrtSession *, size_t, IrisOrtAllocator *, char **))(session, index, allocator, out);
}
static inline IrisOrtStatus *iris_ort_create_tensor(const IrisOrtApi *api, const IrisOrtMemoryInfo *info, void *data, size_t length,
                                                    const int64_t *shape, size_t rank, int element_type, IrisOrtValue **out) {
    return IRIS_ORT_CALL(api, IRIS_ORT_SLOT_CREATE_TENSOR_WITH_DATA,
                         IrisOrtStatus *(*)(const IrisOrtMemoryInfo *, void *, size_t, const int64_t *, size_t, int, IrisOrtValue **))(
        info, data, length, shape, rank, element_type, out);
}
static inline IrisOrtStatus *iris_ort_tensor_data(const IrisOrtApi *api, IrisOrtValue *value, void **out) {
    return IRIS_ORT_CALL(api, IRIS_ORT_SLOT_GET_TENSOR_MUTABLE_DATA, IrisOrtStatus *(*)(IrisOrtValue *, void **))(value, out);
}
static inline IrisOrtStatus *iris_ort_cast_to_tensor_info(const IrisOrtApi *api, const IrisOrtTypeInfo *info,
                                                          const IrisOrtTensorInfo **out) {
    return IRIS_ORT_CALL(api, IRIS_ORT_SLOT_CAST_TYPE_INFO_TO_TENSOR_INFO,
                         IrisOrtStatus *(*)(const IrisOrtTypeInfo *, const IrisOrtTensorInfo **))(info, out);
}
static inline IrisOrtStatus *iris_ort_element_type(const IrisOrtApi *api, const IrisOrtTensorInfo *info, int *out) {
    return IRIS_ORT_CALL(api, IRIS_ORT_SLOT_GET_TENSOR_ELEMENT_TYPE, IrisOrtStatus *(*)(const IrisOrtTensorInfo *, int *))(info, out);
}
static inline IrisOrtStatus *iris_ort_dimensions_count(const IrisOrtApi *api, const IrisOrtTensorInfo *info, size_t *out) {
    return IRIS_ORT_CALL(api, IRIS_ORT_SLOT_GET_DIMENSIONS_COUNT, IrisOrtStatus *(*)(const IrisOrtTensorInfo *, size_t *))(info, out);
}
static inline IrisOrtStatus *iris_ort_dimensions(const IrisOrtApi *api, const IrisOrtTensorInfo *info, int64_t *values, size_t count) {
    return IRIS_ORT_CALL(api, IRIS_ORT_SLOT_GET_DIMENSIONS, IrisOrtStatus *(*)(const IrisOrtTensorInfo *, int64_t *, size_t))(
        info, values, count);
}
static inline IrisOrtStatus *iris_ort_tensor_type_and_shape(const IrisOrtApi *api, const IrisOrtValue *value, IrisOrtTensorInfo **out) {
    return IRIS_ORT_CALL(api, IRIS_ORT_SLOT_GET_TENSOR_TYPE_AND_SHAPE, IrisOrtStatus *(*)(const IrisOrtValue *, IrisOrtTensorInfo **))(
        value, out);
}
static inline IrisOrtStatus *iris_ort_create_cpu_memory_info(const IrisOrtApi *api, int allocator_type, int memory_type,
                                                             IrisOrtMemoryInfo **out) {
    return IRIS_ORT_CALL(api, IRIS_ORT_SLOT_CREATE_CPU_MEMORY_INFO, IrisOrtStatus *(*)(int, int, IrisOrtMemoryInfo **))(
        allocator_type, memory_type, out);
}
static inline IrisOrtStatus *iris_ort_create_and_register_allocator(const IrisOrtApi *api, IrisOrtEnv *env,
                                                                   const IrisOrtMemoryInfo *memory, const IrisOrtArenaCfg *arena) {
    return IRIS_ORT_CALL(api, IRIS_ORT_SLOT_CREATE_AND_REGISTER_ALLOCATOR,
                         IrisOrtStatus *(*)(IrisOrtEnv *, const IrisOrtMemoryInfo *, const IrisOrtArenaCfg *))(env, memory, arena);
}
static inline IrisOrtStatus *iris_ort_allocator_free(const IrisOrtApi *api, IrisOrtAllocator *allocator, void *pointer) {
    return IRIS_ORT_CALL(api, IRIS_ORT_SLOT_ALLOCATOR_FREE, IrisOrtStatus *(*)(IrisOrtAllocator *, void *))(allocator, pointer);
}
static inline IrisOrtStatus *iris_ort_default_allocator(const IrisOrtApi *api, IrisOrtAllocator **out) {
    return IRIS_ORT_CALL(api, IRIS_ORT_SLOT_GET_DEFAULT_ALLOCATOR, IrisOrtStatus *(*)(IrisOrtAllocator **))(out);
}

#define IRIS_ORT_RELEASE(function, slot, type) \
    static inline void function(const IrisOrtApi *api, type *object) { \
        if (object != NULL) IRIS_ORT_CALL(api, slot, void (*)(type *))(object); \
    }
IRIS_ORT_RELEASE(iris_ort_release_status, IRIS_ORT_SLOT_RELEASE_STATUS, IrisOrtStatus)
IRIS_ORT_RELEASE(iris_ort_release_session, IRIS_ORT_SLOT_RELEASE_SESSION, IrisOrtSession)
IRIS_ORT_RELEASE(iris_ort_release_value, IRIS_ORT_SLOT_RELEASE_VALUE, IrisOrtValue)
IRIS_ORT_RELEASE(iris_ort_release_type_info, IRIS_ORT_SLOT_RELEASE_TYPE_INFO, IrisOrtTypeInfo)
IRIS_ORT_RELEASE(iris_ort_release_tensor_info, IRIS_ORT_SLOT_RELEASE_TENSOR_INFO, IrisOrtTensorInfo)
IRIS_ORT_RELEASE(iris_ort_release_session_options, IRIS_ORT_SLOT_RELEASE_SESSION_OPTIONS, IrisOrtSessionOptions)
#undef IRIS_ORT_RELEASE

#endif
