/* streamlab.windows._strtable: a hash table from UTF-8 strings to key ids, in C.
 *
 * ``windows.keys`` keeps one per key column, beside the column's pandas hash table (which
 * stays the source of truth: it gives every new key its id). A batch of strings is looked up
 * here in one C loop, without a Python call per row:
 *   - ``lookup_objects`` reads Python ``str`` objects (an object array's pointers);
 *   - ``lookup_utf8`` reads an Arrow string array's offsets and data buffers.
 * A row not found gets -1; the caller hashes those rows the slow way and ``learn``s them.
 * Both can split a large batch over threads. Those read only buffers, and ASCII ``str`` objects
 * (immutable, kept alive by the caller's array), so they run without the GIL; other strings wait
 * for a second pass with it. The table refuses changes (``learn``) while such a lookup runs.
 *
 * Built at install by ``hatch_build.py``. Without a compiler streamlab uses its Python paths.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>
#include <pthread.h>

typedef struct {
    uint64_t hash;
    int64_t id;     /* -1: empty slot */
    int64_t off;    /* the string's bytes: arena[off : off + len] */
    int64_t len;
} Slot;

typedef struct {
    PyObject_HEAD
    Slot *slots;
    uint64_t mask;      /* capacity - 1 (a power of two) */
    Py_ssize_t count;
    char *arena;
    int64_t used, cap;  /* bytes of the arena in use, allocated */
    uint64_t seed;
    int busy;           /* lookups running without the GIL: the table must not change */
} StrTable;

static inline uint64_t mix(uint64_t h)
{
    h ^= h >> 33; h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33; h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

/* Seeded per table. Keys up to 16 bytes (the usual ones) take one final mix; longer ones mix
 * each 8-byte word in. */
static inline uint64_t hash_bytes(const char *s, int64_t n, uint64_t seed)
{
    uint64_t h = seed ^ ((uint64_t)n * 0x9E3779B97F4A7C15ULL), w;
    if (n <= 16) {
        uint64_t a = 0, b = 0;
        if (n > 8) {
            memcpy(&a, s, 8);
            memcpy(&b, s + n - 8, 8);  /* overlaps the first word when n < 16 */
        } else if (n >= 4) {
            uint32_t x, y;
            memcpy(&x, s, 4);
            memcpy(&y, s + n - 4, 4);
            a = ((uint64_t)x << 32) | y;
        } else if (n > 0) {
            a = ((uint64_t)(unsigned char)s[0] << 16) | ((uint64_t)(unsigned char)s[n / 2] << 8)
                | (unsigned char)s[n - 1];
        }
        return mix(h ^ a ^ (b * 0xC2B2AE3D27D4EB4FULL) ^ (b >> 29));
    }
    while (n >= 8) {
        memcpy(&w, s, 8);
        h = (h ^ mix(w)) * 0x9E3779B97F4A7C15ULL;
        s += 8;
        n -= 8;
    }
    if (n) {
        w = 0;
        memcpy(&w, s, (size_t)n);
        h = (h ^ mix(w ^ 0xA5)) * 0x9E3779B97F4A7C15ULL;
    }
    return mix(h);
}

/* Equal bytes; short keys (the usual ones) are compared a word at a time, without a call. */
static inline int same(const char *a, const char *b, int64_t n)
{
    if (n > 16)
        return memcmp(a, b, (size_t)n) == 0;
    while (n >= 8) {
        uint64_t x, y;
        memcpy(&x, a, 8);
        memcpy(&y, b, 8);
        if (x != y)
            return 0;
        a += 8;
        b += 8;
        n -= 8;
    }
    while (n--)
        if (*a++ != *b++)
            return 0;
    return 1;
}

static inline int64_t find(StrTable *t, const char *s, int64_t n, uint64_t h)
{
    uint64_t i = h & t->mask;
    for (;;) {
        Slot *e = &t->slots[i];
        if (e->id < 0)
            return -1;
        if (e->hash == h && e->len == n && same(t->arena + e->off, s, n))
            return e->id;
        i = (i + 1) & t->mask;
    }
}

/* The id of the n bytes at s, or -1. */
static inline int64_t find_bytes(StrTable *t, const char *s, int64_t n)
{
    return find(t, s, n, hash_bytes(s, n, t->seed));
}

static int grow(StrTable *t)
{
    uint64_t cap = (t->mask + 1) * 2;
    Slot *slots = PyMem_Malloc(cap * sizeof(Slot));
    if (!slots) {
        PyErr_NoMemory();
        return -1;
    }
    for (uint64_t i = 0; i < cap; i++)
        slots[i].id = -1;
    for (uint64_t j = 0; j <= t->mask; j++) {
        Slot *e = &t->slots[j];
        if (e->id < 0)
            continue;
        uint64_t i = e->hash & (cap - 1);
        while (slots[i].id >= 0)
            i = (i + 1) & (cap - 1);
        slots[i] = *e;
    }
    PyMem_Free(t->slots);
    t->slots = slots;
    t->mask = cap - 1;
    return 0;
}

/* Adds s -> id unless s is there already. */
static int insert(StrTable *t, const char *s, int64_t n, int64_t id)
{
    uint64_t h = hash_bytes(s, n, t->seed);
    if (find(t, s, n, h) >= 0)
        return 0;
    if ((uint64_t)(t->count + 1) * 2 > t->mask + 1 && grow(t) < 0)
        return -1;
    if (t->used + n > t->cap) {
        int64_t cap = t->cap * 2 > t->used + n ? t->cap * 2 : t->used + n + 4096;
        char *arena = PyMem_Realloc(t->arena, (size_t)cap);
        if (!arena) {
            PyErr_NoMemory();
            return -1;
        }
        t->arena = arena;
        t->cap = cap;
    }
    memcpy(t->arena + t->used, s, (size_t)n);
    uint64_t i = h & t->mask;
    while (t->slots[i].id >= 0)
        i = (i + 1) & t->mask;
    t->slots[i] = (Slot){h, id, t->used, n};
    t->used += n;
    t->count++;
    return 0;
}

/* The bytes of an exact ASCII str, or NULL; read without a Python call (no GIL needed). */
static inline const char *ascii_of(PyObject *obj, Py_ssize_t *n)
{
    if (!PyUnicode_CheckExact(obj) || !PyUnicode_IS_COMPACT_ASCII(obj))
        return NULL;
    *n = PyUnicode_GET_LENGTH(obj);
    return (const char *)(((PyASCIIObject *)obj) + 1);
}

/* The UTF-8 bytes of an exact str, or NULL (not a str, or not encodable: a lone surrogate). */
static inline const char *utf8_of(PyObject *obj, Py_ssize_t *n)
{
    const char *s = ascii_of(obj, n);
    if (s || !PyUnicode_CheckExact(obj))
        return s;
    s = PyUnicode_AsUTF8AndSize(obj, n);
    if (!s)
        PyErr_Clear();
    return s;
}

static PyObject *
StrTable_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *names[] = {"seed", NULL};
    unsigned long long seed = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|K", names, &seed))
        return NULL;
    StrTable *t = (StrTable *)type->tp_alloc(type, 0);
    if (!t)
        return NULL;
    t->mask = 1023;
    t->slots = PyMem_Malloc((t->mask + 1) * sizeof(Slot));
    t->cap = 1 << 14;
    t->arena = PyMem_Malloc((size_t)t->cap);
    if (!t->slots || !t->arena) {
        Py_DECREF(t);
        return PyErr_NoMemory();
    }
    for (uint64_t i = 0; i <= t->mask; i++)
        t->slots[i].id = -1;
    t->seed = mix(seed ^ 0x2545F4914F6CDD1DULL);
    return (PyObject *)t;
}

static void
StrTable_dealloc(StrTable *t)
{
    PyMem_Free(t->slots);
    PyMem_Free(t->arena);
    Py_TYPE(t)->tp_free((PyObject *)t);
}

static Py_ssize_t
StrTable_len(StrTable *t)
{
    return t->count;
}

static int
int64_buffers(Py_buffer *a, Py_buffer *b, const char *what)
{
    if (a->len % 8 || a->len != b->len) {
        PyErr_Format(PyExc_ValueError, "%s: expected two int64 buffers of one length", what);
        return -1;
    }
    return 0;
}

/* Rows [lo, hi) of an Arrow string array: ids into out, the count not found into misses, and
 * bad set when an offset points outside the data (no Python call: it runs without the GIL). */
typedef struct {
    StrTable *t;
    const void *offsets;
    const char *data;
    Py_ssize_t data_len, start, lo, hi;
    int64_t *out;
    int wide;
    Py_ssize_t misses;
    int bad;
} Rows;

static void *lookup_rows(void *arg)
{
    Rows *r = arg;
    Py_ssize_t misses = 0;
#define LOOKUP_ROWS(T)                                                                      \
    for (Py_ssize_t i = r->lo; i < r->hi; i++) {                                            \
        int64_t a = ((const T *)r->offsets)[r->start + i], b = ((const T *)r->offsets)[r->start + i + 1]; \
        if (a < 0 || b < a || b > r->data_len) {                                            \
            r->bad = 1;                                                                     \
            return NULL;                                                                    \
        }                                                                                   \
        int64_t id = find_bytes(r->t, r->data + a, b - a);                                   \
        r->out[i] = id;                                                                     \
        misses += id < 0;                                                                   \
    }
    if (r->wide) {
        LOOKUP_ROWS(int64_t)
    } else {
        LOOKUP_ROWS(int32_t)
    }
#undef LOOKUP_ROWS
    r->misses = misses;
    return NULL;
}

#define MAX_THREADS 8

/* Runs fn on each of `threads` parts (each `size` bytes, from `parts`): the first on this thread,
 * the others on threads of their own (a part whose thread cannot start runs here too), without
 * the GIL when there is more than one. */
static void run_parts(StrTable *t, void *(*fn)(void *), char *parts, size_t size, int threads)
{
    if (threads == 1) {
        fn(parts);
        return;
    }
    pthread_t ids[MAX_THREADS];
    int started[MAX_THREADS] = {0};
    t->busy++;
    Py_BEGIN_ALLOW_THREADS
    for (int k = 1; k < threads; k++)
        started[k] = pthread_create(&ids[k], NULL, fn, parts + k * size) == 0;
    fn(parts);
    for (int k = 1; k < threads; k++) {
        if (started[k])
            pthread_join(ids[k], NULL);
        else
            fn(parts + k * size);
    }
    Py_END_ALLOW_THREADS
    t->busy--;
}

static int check_threads(int threads, const char *what)
{
    if (threads < 1 || threads > MAX_THREADS) {
        PyErr_Format(PyExc_ValueError, "%s: threads must be 1 to %d, got %d", what, MAX_THREADS, threads);
        return -1;
    }
    return 0;
}

/* Rows [lo, hi) of an object array (pointers): ids of the exact ASCII str objects, which are read
 * without a Python call; every other row is left at -2 for a second pass that holds the GIL. */
typedef struct {
    StrTable *t;
    const int64_t *ptrs;
    Py_ssize_t lo, hi;
    int64_t *out;
    Py_ssize_t misses, deferred;
} ObjectRows;

static void *lookup_object_rows(void *arg)
{
    ObjectRows *r = arg;
    Py_ssize_t misses = 0, deferred = 0;
    for (Py_ssize_t i = r->lo; i < r->hi; i++) {
        Py_ssize_t n;
        const char *s = ascii_of((PyObject *)(intptr_t)r->ptrs[i], &n);
        if (!s) {
            r->out[i] = -2;
            deferred++;
            continue;
        }
        int64_t id = find_bytes(r->t, s, n);
        r->out[i] = id;
        misses += id < 0;
    }
    r->misses = misses;
    r->deferred = deferred;
    return NULL;
}

static PyObject *
StrTable_lookup_objects(StrTable *t, PyObject *args)
{
    Py_buffer ptrs, out;
    int threads = 1;
    if (!PyArg_ParseTuple(args, "y*w*|i", &ptrs, &out, &threads))
        return NULL;
    PyObject *result = NULL;
    if (int64_buffers(&ptrs, &out, "lookup_objects") < 0 || check_threads(threads, "lookup_objects") < 0)
        goto done;
    Py_ssize_t n = ptrs.len / 8, misses = 0, deferred = 0;
    const int64_t *p = ptrs.buf;
    int64_t *o = out.buf;
    ObjectRows parts[MAX_THREADS];
    for (int k = 0; k < threads; k++)
        parts[k] = (ObjectRows){t, p, n * k / threads, n * (k + 1) / threads, o, 0, 0};
    run_parts(t, lookup_object_rows, (char *)parts, sizeof(ObjectRows), threads);
    for (int k = 0; k < threads; k++) {
        misses += parts[k].misses;
        deferred += parts[k].deferred;
    }
    for (Py_ssize_t i = 0; deferred && i < n; i++) {  /* other str (UTF-8 through Python), not a str */
        if (o[i] != -2)
            continue;
        deferred--;
        Py_ssize_t len;
        const char *s = utf8_of((PyObject *)(intptr_t)p[i], &len);
        int64_t id = s ? find_bytes(t, s, len) : -1;
        o[i] = id;
        misses += id < 0;
    }
    result = PyLong_FromSsize_t(misses);
done:
    PyBuffer_Release(&ptrs);
    PyBuffer_Release(&out);
    return result;
}

static PyObject *
StrTable_lookup_utf8(StrTable *t, PyObject *args)
{
    Py_buffer offsets, data, out;
    Py_ssize_t start;
    int wide, threads = 1;
    if (!PyArg_ParseTuple(args, "y*y*nw*p|i", &offsets, &data, &start, &out, &wide, &threads))
        return NULL;
    PyObject *result = NULL;
    Py_ssize_t n = out.len / 8, misses = 0, width = wide ? 8 : 4;
    if (out.len % 8 || start < 0 || (start + n + 1) * width > offsets.len) {
        PyErr_SetString(PyExc_ValueError, "lookup_utf8: offsets too short for out");
        goto done;
    }
    if (check_threads(threads, "lookup_utf8") < 0)
        goto done;
    Rows rows[MAX_THREADS];
    for (int k = 0; k < threads; k++)
        rows[k] = (Rows){t, offsets.buf, data.buf, data.len, start, n * k / threads, n * (k + 1) / threads,
                         out.buf, wide, 0, 0};
    run_parts(t, lookup_rows, (char *)rows, sizeof(Rows), threads);
    for (int k = 0; k < threads; k++) {
        if (rows[k].bad) {
            PyErr_SetString(PyExc_ValueError, "lookup_utf8: an offset points outside the data");
            goto done;
        }
        misses += rows[k].misses;
    }
    result = PyLong_FromSsize_t(misses);
done:
    PyBuffer_Release(&offsets);
    PyBuffer_Release(&data);
    PyBuffer_Release(&out);
    return result;
}

/* Changing a table that a GIL-free lookup is reading is refused. */
static int check_idle(StrTable *t, const char *what)
{
    if (t->busy) {
        PyErr_Format(PyExc_RuntimeError, "%s: the table is being read by a lookup on other threads", what);
        return -1;
    }
    return 0;
}

/* Numbers the distinct str objects at `pointers` 0, 1, 2 ... in order of first appearance,
   adding each new one to this (scratch) table; other objects get -1. */
static PyObject *
StrTable_number_objects(StrTable *t, PyObject *args)
{
    Py_buffer ptrs, out;
    if (!PyArg_ParseTuple(args, "y*w*", &ptrs, &out))
        return NULL;
    PyObject *result = NULL;
    if (check_idle(t, "number_objects") < 0 || int64_buffers(&ptrs, &out, "number_objects") < 0)
        goto done;
    Py_ssize_t n = ptrs.len / 8;
    const int64_t *p = ptrs.buf;
    int64_t *o = out.buf;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_ssize_t len;
        const char *s = utf8_of((PyObject *)(intptr_t)p[i], &len);
        int64_t id = -1;
        if (s) {
            id = find_bytes(t, s, len);
            if (id < 0) {
                id = t->count;
                if (insert(t, s, len, id) < 0)
                    goto done;
            }
        }
        o[i] = id;
    }
    result = PyLong_FromSsize_t(t->count);
done:
    PyBuffer_Release(&ptrs);
    PyBuffer_Release(&out);
    return result;
}

static PyObject *
StrTable_learn(StrTable *t, PyObject *args)
{
    PyObject *strings;
    Py_buffer ids;
    if (!PyArg_ParseTuple(args, "O!y*", &PyList_Type, &strings, &ids))
        return NULL;
    PyObject *result = NULL;
    Py_ssize_t n = PyList_GET_SIZE(strings), learned = 0;
    if (check_idle(t, "learn") < 0)
        goto done;
    if (ids.len != n * 8) {
        PyErr_SetString(PyExc_ValueError, "learn: one int64 id per string");
        goto done;
    }
    const int64_t *id = ids.buf;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_ssize_t len;
        const char *s = utf8_of(PyList_GET_ITEM(strings, i), &len);
        if (!s || id[i] < 0)
            continue;  /* not a str: the caller's hash table keeps it */
        if (insert(t, s, len, id[i]) < 0)
            goto done;
        learned++;
    }
    result = PyLong_FromSsize_t(learned);
done:
    PyBuffer_Release(&ids);
    return result;
}

static PyMethodDef StrTable_methods[] = {
    {"lookup_objects", (PyCFunction)StrTable_lookup_objects, METH_VARARGS,
     "lookup_objects(pointers, out, threads=1) -> misses: ids of the str objects at the int64 "
     "addresses `pointers` (-1: not a str, or not known); ASCII strings split over `threads` "
     "threads without the GIL."},
    {"lookup_utf8", (PyCFunction)StrTable_lookup_utf8, METH_VARARGS,
     "lookup_utf8(offsets, data, start, out, wide, threads=1) -> misses: ids of the Arrow strings "
     "start .. start + len(out) (int64 offsets when wide, else int32; -1: not known), split over "
     "`threads` threads without the GIL."},
    {"number_objects", (PyCFunction)StrTable_number_objects, METH_VARARGS,
     "number_objects(pointers, out) -> count: number the distinct str objects at the int64 "
     "addresses `pointers` 0, 1, 2 ... in order of first appearance, adding the new ones "
     "(-1: not a str)."},
    {"learn", (PyCFunction)StrTable_learn, METH_VARARGS,
     "learn(strings, ids) -> learned: add each str of the list with its int64 id (others are "
     "skipped; a string known already keeps its id)."},
    {NULL, NULL, 0, NULL},
};

static PySequenceMethods StrTable_as_sequence = {.sq_length = (lenfunc)StrTable_len};

static PyTypeObject StrTableType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "streamlab.windows._strtable.StrTable",
    .tp_doc = "StrTable(seed=0): UTF-8 strings -> int64 key ids.",
    .tp_basicsize = sizeof(StrTable),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = StrTable_new,
    .tp_dealloc = (destructor)StrTable_dealloc,
    .tp_methods = StrTable_methods,
    .tp_as_sequence = &StrTable_as_sequence,
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_strtable", NULL, 0, NULL};

PyMODINIT_FUNC
PyInit__strtable(void)
{
    if (PyType_Ready(&StrTableType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m)
        return NULL;
    Py_INCREF(&StrTableType);
    if (PyModule_AddObject(m, "StrTable", (PyObject *)&StrTableType) < 0) {
        Py_DECREF(&StrTableType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
