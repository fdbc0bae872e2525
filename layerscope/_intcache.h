/* A one-value cache of Python ints for the C walks (tar/_tarwalk.c,
 * sources/_storagewalk.c): members in a row mostly share mode, owner and
 * mtime, so the last int made is handed out again instead of a new one. */
#ifndef LAYERSCOPE_INTCACHE_H
#define LAYERSCOPE_INTCACHE_H

#include <Python.h>

typedef struct {
    long long v;
    PyObject *o;
} icache_t;

/* A new reference to int(v), from the cache when it holds v. */
static PyObject *cached_int(icache_t *c, long long v)
{
    if (c->o != NULL && c->v == v) {
        Py_INCREF(c->o);
        return c->o;
    }
    Py_XDECREF(c->o);
    c->o = PyLong_FromLongLong(v);
    if (c->o == NULL)
        return NULL;
    c->v = v;
    Py_INCREF(c->o);
    return c->o;
}

#endif
