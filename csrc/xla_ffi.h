/* The part of XLA's FFI C ABI (xla/ffi/api/c_api.h, OpenXLA, API major
   version 0) that pooling's custom-call handlers read and write (_xla.pxi).

   Declared here, not included from jaxlib, so that the extension builds
   without JAX: JAX is an optional runtime extra, never a build dependency.
   The layouts are XLA's stable C ABI: every struct begins with its own
   size, fields are only ever appended, and the handlers check the sizes
   they are given before reading past what API 0.1 defined.  Only the
   structs and fields used are declared; a struct whose tail is not read
   ends at the last field that is (XLA_FFI_Api: Error_Create). */
#ifndef POOLING_XLA_FFI_H
#define POOLING_XLA_FFI_H

#include <stddef.h>
#include <stdint.h>

/* A struct's size as XLA counts it: up to the end of its last field. */
#define POOLING_XLA_SIZE(type, last) (offsetof(type, last) + sizeof(((type*)0)->last))

typedef enum { XLA_FFI_Extension_Metadata = 1 } XLA_FFI_Extension_Type;

typedef struct XLA_FFI_Extension_Base {
    size_t struct_size;
    XLA_FFI_Extension_Type type;
    struct XLA_FFI_Extension_Base* next;
} XLA_FFI_Extension_Base;

typedef struct XLA_FFI_Api_Version {
    size_t struct_size;
    XLA_FFI_Extension_Base* extension_start;
    int major_version;
    int minor_version;
} XLA_FFI_Api_Version;

typedef struct XLA_FFI_Error XLA_FFI_Error;       /* opaque */

typedef enum {
    XLA_FFI_Error_Code_INVALID_ARGUMENT = 3,
    XLA_FFI_Error_Code_INTERNAL = 13
} XLA_FFI_Error_Code;

typedef struct XLA_FFI_Error_Create_Args {
    size_t struct_size;
    XLA_FFI_Extension_Base* extension_start;
    const char* message;
    XLA_FFI_Error_Code errc;
} XLA_FFI_Error_Create_Args;

typedef XLA_FFI_Error* XLA_FFI_Error_Create(XLA_FFI_Error_Create_Args* args);

typedef enum {
    XLA_FFI_DataType_U8 = 6,
    XLA_FFI_DataType_S64 = 5,
    XLA_FFI_DataType_F32 = 11,
    XLA_FFI_DataType_F64 = 12
} XLA_FFI_DataType;

typedef struct XLA_FFI_Buffer {
    size_t struct_size;
    XLA_FFI_Extension_Base* extension_start;
    XLA_FFI_DataType dtype;
    void* data;
    int64_t rank;
    int64_t* dims;
} XLA_FFI_Buffer;

typedef enum { XLA_FFI_ArgType_BUFFER = 1 } XLA_FFI_ArgType;
typedef enum { XLA_FFI_RetType_BUFFER = 1 } XLA_FFI_RetType;
typedef enum { XLA_FFI_AttrType_ARRAY = 1 } XLA_FFI_AttrType;

typedef struct XLA_FFI_Array {
    XLA_FFI_DataType dtype;
    size_t size;
    void* data;
} XLA_FFI_Array;

typedef struct XLA_FFI_ByteSpan {
    const char* ptr;
    size_t len;
} XLA_FFI_ByteSpan;

typedef struct XLA_FFI_Args {
    size_t struct_size;
    XLA_FFI_Extension_Base* extension_start;
    int64_t size;
    XLA_FFI_ArgType* types;
    void** args;
} XLA_FFI_Args;

typedef struct XLA_FFI_Rets {
    size_t struct_size;
    XLA_FFI_Extension_Base* extension_start;
    int64_t size;
    XLA_FFI_RetType* types;
    void** rets;
} XLA_FFI_Rets;

typedef struct XLA_FFI_Attrs {
    size_t struct_size;
    XLA_FFI_Extension_Base* extension_start;
    int64_t size;
    XLA_FFI_AttrType* types;
    XLA_FFI_ByteSpan** names;
    void** attrs;
} XLA_FFI_Attrs;

typedef struct XLA_FFI_Api {
    size_t struct_size;
    XLA_FFI_Extension_Base* extension_start;
    XLA_FFI_Api_Version api_version;
    const void* internal_api;
    XLA_FFI_Error_Create* XLA_FFI_Error_Create;
} XLA_FFI_Api;

typedef enum { XLA_FFI_ExecutionStage_EXECUTE = 3 } XLA_FFI_ExecutionStage;

typedef struct XLA_FFI_CallFrame {
    size_t struct_size;
    XLA_FFI_Extension_Base* extension_start;
    const XLA_FFI_Api* api;
    void* ctx;
    XLA_FFI_ExecutionStage stage;
    XLA_FFI_Args args;
    XLA_FFI_Rets rets;
    XLA_FFI_Attrs attrs;
} XLA_FFI_CallFrame;

typedef uint32_t XLA_FFI_Handler_Traits;

typedef struct XLA_FFI_Metadata {
    size_t struct_size;
    XLA_FFI_Api_Version api_version;
    XLA_FFI_Handler_Traits traits;
} XLA_FFI_Metadata;

typedef struct XLA_FFI_Metadata_Extension {
    XLA_FFI_Extension_Base extension_base;
    XLA_FFI_Metadata* metadata;
} XLA_FFI_Metadata_Extension;

/* Output buffers XLA has just mapped fault in 4 KB at a time (a fresh
   51 MB gradient: 12,500 faults, more time than the kernel's loops); asking
   for transparent huge pages where the system leaves them to madvise makes
   those faults 2 MB each.  Only a hint on memory the handler is about to
   write whole; nothing where the system has no such call. */
#if defined(__linux__)
#include <sys/mman.h>
#endif
static void pooling_xla_huge_pages(void* data, size_t nbytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    const uintptr_t huge = (uintptr_t)1 << 21;
    uintptr_t lo = ((uintptr_t)data + huge - 1) & ~(huge - 1);
    uintptr_t hi = ((uintptr_t)data + nbytes) & ~(huge - 1);
    if (nbytes >= ((size_t)4 << 20) && hi > lo)
        (void)madvise((void*)lo, hi - lo, MADV_HUGEPAGE);
#else
    (void)data; (void)nbytes;
#endif
}

/* The sizes the handlers check or give. */
#define POOLING_XLA_CALLFRAME_SIZE POOLING_XLA_SIZE(XLA_FFI_CallFrame, attrs)
#define POOLING_XLA_BUFFER_SIZE POOLING_XLA_SIZE(XLA_FFI_Buffer, dims)
#define POOLING_XLA_ERROR_ARGS_SIZE POOLING_XLA_SIZE(XLA_FFI_Error_Create_Args, errc)

#endif
