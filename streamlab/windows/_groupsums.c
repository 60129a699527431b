/* streamlab.windows._groupsums: rows, non-NULL counts and sums per group id, in one C loop.
 *
 * ``windows.aggregates.reduced_rows`` uses it for the additive partials (``n``, ``c:col``,
 * ``s:col`` of float64 columns), where numpy needs a ``bincount`` per field and an array of
 * weights per column. Rows are added in their order, as ``bincount`` adds them, so the sums are
 * the same to the last bit. Built at install by ``hatch_build.py``; without a compiler the numpy
 * path is used.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

/* count_sum(gid, n, values, c, s) -> None
 *   gid:    int64 group ids (0 <= id < groups) of the rows
 *   n:      int64[groups] or None: += 1 per row
 *   values: float64 per row, or None (then c and s are None too)
 *   c:      int64[groups]: += 1 per non-NaN value
 *   s:      float64[groups]: += the value (0.0 for NaN)
 */
static PyObject *
count_sum(PyObject *self, PyObject *args)
{
    PyObject *n_obj, *v_obj, *c_obj, *s_obj;
    Py_buffer gid, n = {0}, v = {0}, c = {0}, s = {0};
    if (!PyArg_ParseTuple(args, "y*OOOO", &gid, &n_obj, &v_obj, &c_obj, &s_obj))
        return NULL;
    PyObject *result = NULL;
    int has_n = n_obj != Py_None, has_v = v_obj != Py_None;
    if ((has_n && PyObject_GetBuffer(n_obj, &n, PyBUF_WRITABLE) < 0)
        || (has_v && (PyObject_GetBuffer(v_obj, &v, PyBUF_SIMPLE) < 0
                      || PyObject_GetBuffer(c_obj, &c, PyBUF_WRITABLE) < 0
                      || PyObject_GetBuffer(s_obj, &s, PyBUF_WRITABLE) < 0)))
        goto done;
    Py_ssize_t rows = gid.len / 8, groups = has_n ? n.len / 8 : c.len / 8;
    if (gid.len % 8 || (has_v && (v.len != gid.len || c.len / 8 != groups || s.len / 8 != groups))) {
        PyErr_SetString(PyExc_ValueError, "count_sum: buffers of mismatched lengths");
        goto done;
    }
    const int64_t *g = gid.buf;
    int64_t *nn = has_n ? n.buf : NULL, *cc = has_v ? c.buf : NULL;
    const double *x = has_v ? v.buf : NULL;
    double *ss = has_v ? s.buf : NULL;
    for (Py_ssize_t i = 0; i < rows; i++) {  /* one pass; on an error the outputs are discarded */
        int64_t k = g[i];
        if (k < 0 || k >= groups) {
            PyErr_Format(PyExc_ValueError, "count_sum: group id %lld outside 0..%zd", (long long)k, groups - 1);
            goto done;
        }
        if (nn)
            nn[k] += 1;
        if (x) {
            double y = x[i];
            int ok = y == y;  /* not NaN */
            cc[k] += ok;
            ss[k] += ok ? y : 0.0;
        }
    }
    result = Py_None;
    Py_INCREF(result);
done:
    PyBuffer_Release(&gid);
    if (n.obj) PyBuffer_Release(&n);
    if (v.obj) PyBuffer_Release(&v);
    if (c.obj) PyBuffer_Release(&c);
    if (s.obj) PyBuffer_Release(&s);
    return result;
}

static PyMethodDef methods[] = {
    {"count_sum", count_sum, METH_VARARGS,
     "count_sum(gid, n, values, c, s): per group, rows (n), non-NaN values (c) and their sum (s)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_groupsums", NULL, 0, methods};

PyMODINIT_FUNC
PyInit__groupsums(void)
{
    return PyModule_Create(&module);
}
