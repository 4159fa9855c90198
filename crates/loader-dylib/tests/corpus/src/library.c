// Hand-made kernel libraries for loader-dylib's malformed-library corpus. Each VARIANT builds a
// well-formed x86_64 shared object whose tables are wrong in one way (see ../regenerate.sh).
// No libc: the libraries are linked with -nostdlib.
#include <stdint.h>
#include <stddef.h>

typedef struct { uint32_t version; const char* name; uint32_t features; int32_t sanitizer; } header_t;
typedef int (*dispatch_fn)(const void*, const void*, const void*);
typedef struct {
  uint64_t flags; uint16_t local_memory_pages; uint8_t constant_count; uint8_t binding_count;
  uint32_t wg_x, wg_y; uint16_t wg_z; uint16_t parameter_count; uint64_t reserved[5];
} attrs_t;
typedef struct { uint32_t count; const char* const* symbols; } imports_t;
typedef struct {
  uint32_t count; const dispatch_fn* ptrs; const attrs_t* attrs; const void* params;
  const void* occupancy; const char* const* names; const void* tags; const void* parameter_names;
  const void* source_locations; const void* stage_locations;
} exports_t;
typedef struct {
  const header_t* header; imports_t imports; exports_t exports; uint32_t constants; uint32_t pad;
  uint32_t source_count; const void* sources;
} library_t;

#ifndef VERSION
#define VERSION 6
#endif
#ifndef SANITIZER
#define SANITIZER 0
#endif
#ifndef BINDINGS
#define BINDINGS 1
#endif
#ifndef CONSTANTS
#define CONSTANTS 0
#endif

static int copy(const void* env, const void* dispatch, const void* workgroup) { return 0; }

static const header_t header = {VERSION, "corpus", 0, SANITIZER};
static const dispatch_fn ptrs[] = {copy};
static const attrs_t attrs[] = {{0, 0, CONSTANTS, BINDINGS, 1, 1, 1, 0, {0}}};
#ifdef NULL_NAME
static const char* const names[] = {NULL};
#else
static const char* const names[] = {"copy"};
#endif
#ifdef IMPORT
static const char* const imports[] = {IMPORT};
#define IMPORT_COUNT 1
#else
static const char* const* const imports = NULL;
#define IMPORT_COUNT 0
#endif

static const library_t library = {
  &header, {IMPORT_COUNT, imports},
#ifdef NULL_ATTRS
  {1, ptrs, NULL, NULL, NULL, names, NULL, NULL, NULL, NULL},
#else
  {1, ptrs, attrs, NULL, NULL, names, NULL, NULL, NULL, NULL},
#endif
  0, 0, 0, NULL};

#ifdef QUERY_NAME
#define QUERY QUERY_NAME
#else
#define QUERY iree_hal_executable_library_query
#endif

__attribute__((visibility("default")))
const library_t* QUERY(uint32_t max_version, const void* environment) {
#ifdef RETURN_NULL
  return NULL;
#else
  return max_version == 6 ? &library : NULL;
#endif
}

#ifdef PROGRAM
// An executable program instead of a library (linked with -static or -pie).
void _start(void) { for (;;) {} }
#endif
