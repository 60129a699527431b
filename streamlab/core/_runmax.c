/* streamlab.core._runmax: the running maximum of an int64 array, in one C loop.
 *
 * ``core.watermarks.running_max`` uses it for the watermark each row sees (numpy's
 * ``maximum.accumulate`` and Arrow's ``cumulative_max`` cost several times more per row).
 * Built at install by ``hatch_build.py``; without a compiler the numpy/Arrow path is used.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

/* running_max(a, out): out[i] = max(a[0], ..., a[i]) for int64 buffers of one length. */
static PyObject *
running_max(PyObject *self, PyObject *args)
{
    Py_buffer a, out;
    if (!PyArg_ParseTuple(args, "y*w*", &a, &out))
        return NULL;
    if (a.len % 8 || a.len != out.len) {
        PyBuffer_Release(&a);
        PyBuffer_Release(&out);
        PyErr_SetString(PyExc_ValueError, "running_max: a and out must be int64 buffers of one length");
        return NULL;
    }
    const int64_t *x = a.buf;
    int64_t *o = out.buf, m = INT64_MIN;
    Py_ssize_t n = a.len / 8;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (x[i] > m)
            m = x[i];
        o[i] = m;
    }
    PyBuffer_Release(&a);
    PyBuffer_Release(&out);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"running_max", running_max, METH_VARARGS,
     "running_max(a, out): out[i] = max(a[:i + 1]) for int64 buffers of one length."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_runmax", NULL, 0, methods};

PyMODINIT_FUNC
PyInit__runmax(void)
{
    return PyModule_Create(&module);
}
