/* The replay's common case in C (optional; layerscope/union.py does
 * everything without it).
 *
 * add_new(entries, pos, index, state, children, log, hidden, whiteout, opaque,
 *         hardlink, directory, file, change_type, modified, overwritten,
 *         entry_type, added) -> int
 *
 * From entries[pos] on, adds every entry that is a new path in an existing
 * directory, exactly as _Replay.apply does in Python:
 *
 *     state[path] = (index, e); children[parent].add(path);
 *     if e.type is directory and path not in children: children[path] = set()
 *     log.append(e)
 *
 * Whiteout and opaque markers are passed over (apply handles them before).
 * It stops at the first entry it does not handle (a path already in the
 * state, a missing parent, a hard link, the root, anything that is not a
 * tuple with a str path) and returns its position, or len(entries) at the
 * end; nothing of that entry has been changed. ``children`` has a set for
 * exactly the directories of the state, so it tells whether a parent is one.
 *
 * One missing parent whose own parent is a directory of the state is made
 * here, as _Replay._ensure_parent makes it: state[parent] = (index,
 * entry_type((parent, directory, 0, 0o755, 0, 0, 0, "", None))), a change
 * (parent, added, directory, 0) logged first, children[grandparent] gets it.
 * Deeper gaps, or a file where the grandparent should be, stay Python's.
 * The module's ``api`` is 2 since these arguments came, 3 since the tallies
 * below (tally_files, tally_changes, final_columns, shared_digests) and
 * single_arena.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

/* children[path] = set() unless there is one. */
static int
new_children(PyObject *children, PyObject *path)
{
    int has = PyDict_Contains(children, path);
    if (has != 0)
        return has < 0 ? -1 : 0;
    PyObject *fresh = PySet_New(NULL);
    if (fresh == NULL)
        return -1;
    int rc = PyDict_SetItem(children, path, fresh);
    Py_DECREF(fresh);
    return rc;
}

/* A tuple type's instance from the items of ``fields`` (as tuple.__new__). */
static PyObject *
make_tuple(PyObject *type, PyObject *fields)
{
    PyObject *wrap = PyTuple_Pack(1, fields);
    if (wrap == NULL)
        return NULL;
    PyObject *made = PyTuple_Type.tp_new((PyTypeObject *)type, wrap, NULL);
    Py_DECREF(wrap);
    return made;
}

/* The missing directory ``parent`` made when its own parent is a directory of
 * the state; returns its (new, borrowed) children set, or NULL, without an
 * error when it is not that case (then nothing was changed). The path being
 * added is not in ``state`` yet: it goes in after its parent, as in Python. */
static PyObject *
make_parent(PyObject *path, PyObject *parent, PyObject *index, PyObject *state, PyObject *children,
            PyObject *log, PyObject *directory, PyObject *entry_type, PyObject *change_type,
            PyObject *added)
{
    Py_ssize_t len = PyUnicode_GET_LENGTH(parent);
    if (len == 0 || PyDict_Contains(state, parent) != 0 || PyDict_Contains(state, path) != 0)
        return NULL; /* the root, a file in the way, or an error: Python's */
    Py_ssize_t slash = PyUnicode_FindChar(parent, '/', 0, len, -1);
    if (slash == -2)
        return NULL;
    PyObject *grand = PyUnicode_Substring(parent, 0, slash < 0 ? 0 : slash);
    if (grand == NULL)
        return NULL;
    PyObject *node = PyDict_GetItemWithError(state, grand);       /* borrowed */
    PyObject *gkids = node ? PyDict_GetItemWithError(children, grand) : NULL;
    Py_DECREF(grand);
    if (gkids == NULL || !PySet_Check(gkids) || !PyTuple_Check(node) ||
        PyTuple_GET_SIZE(node) != 2 || !PyTuple_Check(PyTuple_GET_ITEM(node, 1)) ||
        PyTuple_GET_SIZE(PyTuple_GET_ITEM(node, 1)) < 2 ||
        PyTuple_GET_ITEM(PyTuple_GET_ITEM(node, 1), 1) != directory)
        return NULL;
    /* From here every step is one Python would take; an error is an error. */
    PyObject *zero = PyLong_FromLong(0), *mode = PyLong_FromLong(0755);
    PyObject *empty = PyUnicode_New(0, 0), *kids = PySet_New(NULL);
    PyObject *result = NULL, *fields = NULL, *entry = NULL, *change = NULL, *dnode = NULL;
    if (zero == NULL || mode == NULL || empty == NULL || kids == NULL)
        goto out;
    if (PySet_Add(gkids, parent) < 0)
        goto out;
    fields = PyTuple_Pack(4, parent, added, directory, zero);
    if (fields == NULL || (change = make_tuple(change_type, fields)) == NULL ||
        PyList_Append(log, change) < 0)
        goto out;
    Py_CLEAR(fields);
    fields = PyTuple_Pack(9, parent, directory, zero, mode, zero, zero, zero, empty, Py_None);
    if (fields == NULL || (entry = make_tuple(entry_type, fields)) == NULL)
        goto out;
    dnode = PyTuple_Pack(2, index, entry);
    if (dnode == NULL || PyDict_SetItem(state, parent, dnode) < 0 ||
        PyDict_SetItem(children, parent, kids) < 0)
        goto out;
    result = kids; /* borrowed from ``children`` */
out:
    Py_XDECREF(zero);
    Py_XDECREF(mode);
    Py_XDECREF(empty);
    Py_XDECREF(kids);
    Py_XDECREF(fields);
    Py_XDECREF(entry);
    Py_XDECREF(change);
    Py_XDECREF(dnode);
    return result;
}

static PyObject *
add_new(PyObject *self, PyObject *args)
{
    PyObject *entries, *index, *state, *children, *log, *hidden;
    PyObject *whiteout, *opaque, *hardlink, *directory, *file;
    PyObject *change_type, *modified, *overwritten, *entry_type, *added;
    Py_ssize_t pos;
    if (!PyArg_ParseTuple(args, "OnOO!O!O!O!OOOOOO!OOO!O", &entries, &pos, &index, &PyDict_Type,
                          &state, &PyDict_Type, &children, &PyList_Type, &log, &PyList_Type,
                          &hidden, &whiteout, &opaque, &hardlink, &directory, &file,
                          &PyType_Type, &change_type, &modified, &overwritten, &PyType_Type,
                          &entry_type, &added))
        return NULL;
    if (!PyType_IsSubtype((PyTypeObject *)change_type, &PyTuple_Type) ||
        !PyType_IsSubtype((PyTypeObject *)entry_type, &PyTuple_Type)) {
        PyErr_SetString(PyExc_TypeError, "the change and entry types must be tuple types");
        return NULL;
    }
    PyObject *seq = PySequence_Fast(entries, "entries must be a sequence");
    if (seq == NULL)
        return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject **items = PySequence_Fast_ITEMS(seq);
    /* The directory of the previous entry (owned) and its children set
     * (borrowed: ``children`` holds it, and nothing leaves ``children``
     * during this call). */
    PyObject *last_parent = NULL, *last_kids = NULL;
    PyObject *result = NULL;
    if (pos < 0)
        pos = 0;
    for (; pos < n; pos++) {
        PyObject *e = items[pos];
        if (!PyTuple_Check(e) || PyTuple_GET_SIZE(e) < 2)
            break;
        PyObject *path = PyTuple_GET_ITEM(e, 0);
        PyObject *typ = PyTuple_GET_ITEM(e, 1);
        if (typ == whiteout || typ == opaque)
            continue;
        if (typ == hardlink || !PyUnicode_CheckExact(path))
            break;
        Py_ssize_t len = PyUnicode_GET_LENGTH(path);
        if (len == 0)
            break;
        Py_ssize_t slash = PyUnicode_FindChar(path, '/', 0, len, -1);
        if (slash == -2)
            goto done;
        Py_ssize_t cut = slash < 0 ? 0 : slash;
        PyObject *kids;
        if (last_parent != NULL && PyUnicode_GET_LENGTH(last_parent) == cut &&
            (cut == 0 || PyUnicode_Tailmatch(path, last_parent, 0, cut, -1) == 1)) {
            kids = last_kids;
        } else {
            PyObject *parent = PyUnicode_Substring(path, 0, cut);
            if (parent == NULL)
                goto done;
            kids = PyDict_GetItemWithError(children, parent); /* borrowed */
            if (kids == NULL) {
                if (PyErr_Occurred() ||
                    (kids = make_parent(path, parent, index, state, children, log, directory,
                                        entry_type, change_type, added)) == NULL) {
                    Py_DECREF(parent);
                    if (PyErr_Occurred())
                        goto done;
                    break; /* Python makes it */
                }
            }
            Py_XSETREF(last_parent, parent); /* owned */
            last_kids = kids;
        }
        if (!PySet_Check(kids))
            break;
        PyObject *node = PyTuple_Pack(2, index, e);
        if (node == NULL)
            goto done;
        PyObject *old = PyDict_SetDefault(state, path, node); /* borrowed */
        if (old == NULL) {
            Py_DECREF(node);
            goto done;
        }
        if (old == node) { /* a new path */
            Py_DECREF(node);
            if (PySet_Add(kids, path) < 0)
                goto done;
            if (typ == directory && new_children(children, path) < 0)
                goto done;
            if (PyList_Append(log, e) < 0)
                goto done;
            continue;
        }
        /* Already there: a directory over a directory (a metadata change),
         * or a leaf over a leaf; anything with a subtree is Python's. */
        if (!PyTuple_Check(old) || PyTuple_GET_SIZE(old) != 2 ||
            !PyTuple_Check(PyTuple_GET_ITEM(old, 1)) ||
            PyTuple_GET_SIZE(PyTuple_GET_ITEM(old, 1)) < 3 || PyTuple_GET_SIZE(e) < 3) {
            Py_DECREF(node);
            break;
        }
        PyObject *old_entry = PyTuple_GET_ITEM(old, 1);
        PyObject *old_type = PyTuple_GET_ITEM(old_entry, 1);
        PyObject *size;
        if (typ == directory && old_type == directory) {
            size = PyLong_FromLong(0);
        } else if (old_type != directory) {
            int has = PyDict_Contains(children, path);
            if (has != 0) {
                Py_DECREF(node);
                if (has < 0)
                    goto done;
                break;
            }
            size = PyTuple_GET_ITEM(e, 2);
            Py_INCREF(size);
            /* The parent's set already holds the path (it was there). */
            if (old_type == file) {
                PyObject *gone = PyTuple_Pack(5, PyTuple_GET_ITEM(old, 0), old_entry, index,
                                              overwritten, path);
                if (gone == NULL || PyList_Append(hidden, gone) < 0) {
                    Py_XDECREF(gone);
                    Py_DECREF(size);
                    Py_DECREF(node);
                    goto done;
                }
                Py_DECREF(gone);
            }
        } else {
            Py_DECREF(node);
            break; /* a leaf over a directory: its subtree is buried in Python */
        }
        if (size == NULL) {
            Py_DECREF(node);
            goto done;
        }
        /* From here the entry is handled: the old node goes. */
        int rc = PyDict_SetItem(state, path, node);
        Py_DECREF(node);
        if (rc < 0 || (typ == directory && old_type != directory &&
                       new_children(children, path) < 0)) {
            Py_DECREF(size);
            goto done;
        }
        PyObject *fields = PyTuple_Pack(4, path, modified, typ, size);
        Py_DECREF(size);
        if (fields == NULL)
            goto done;
        PyObject *wrap = PyTuple_Pack(1, fields);
        Py_DECREF(fields);
        if (wrap == NULL)
            goto done;
        PyObject *change = PyTuple_Type.tp_new((PyTypeObject *)change_type, wrap, NULL);
        Py_DECREF(wrap);
        if (change == NULL)
            goto done;
        rc = PyList_Append(log, change);
        Py_DECREF(change);
        if (rc < 0)
            goto done;
        /* A replacement may change what a directory is: no cached parent. */
        Py_CLEAR(last_parent);
        last_kids = NULL;
    }
    result = PyLong_FromSsize_t(pos);
done:
    Py_XDECREF(last_parent);
    Py_DECREF(seq);
    return result;
}

/* -- tallies over the replay's results (api 3) ------------------------------ */

/* A non-negative size as a C integer; -1 (with an error) for anything else. */
static long long
size_of(PyObject *o)
{
    long long v = PyLong_Check(o) ? PyLong_AsLongLong(o) : -1;
    if (v < 0 && !PyErr_Occurred())
        PyErr_SetString(PyExc_ValueError, "a size must be a non-negative int");
    return v;
}

/* tally_files(entries, file) -> (count, bytes) of the entries whose type
 * (item 1) is ``file``, their sizes (item 2) summed. */
static PyObject *
tally_files(PyObject *self, PyObject *args)
{
    PyObject *entries, *file;
    if (!PyArg_ParseTuple(args, "OO", &entries, &file))
        return NULL;
    PyObject *seq = PySequence_Fast(entries, "entries must be a sequence");
    if (seq == NULL)
        return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq), i, count = 0;
    PyObject **items = PySequence_Fast_ITEMS(seq);
    long long bytes = 0;
    for (i = 0; i < n; i++) {
        PyObject *e = items[i];
        if (!PyTuple_Check(e) || PyTuple_GET_SIZE(e) < 3) {
            PyErr_SetString(PyExc_TypeError, "entries must be tuples of at least 3 items");
            goto fail;
        }
        if (PyTuple_GET_ITEM(e, 1) == file) {
            long long size = size_of(PyTuple_GET_ITEM(e, 2));
            if (size < 0)
                goto fail;
            count++;
            bytes += size;
        }
    }
    Py_DECREF(seq);
    return Py_BuildValue("(nL)", count, bytes);
fail:
    Py_DECREF(seq);
    return NULL;
}

/* tally_changes(log, change_type, file, added, modified) -> (added, added
 * bytes, modified, modified bytes) of the regular files of a replay's log:
 * an item of ``change_type`` is (path, change, type, size), any other an
 * entry (path, type, size, ...) that stands for its ADDED change. */
static PyObject *
tally_changes(PyObject *self, PyObject *args)
{
    PyObject *log, *change_type, *file, *added, *modified;
    if (!PyArg_ParseTuple(args, "O!OOOO", &PyList_Type, &log, &change_type, &file, &added,
                          &modified))
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(log), i, n_added = 0, n_modified = 0;
    long long b_added = 0, b_modified = 0;
    for (i = 0; i < n; i++) {
        PyObject *item = PyList_GET_ITEM(log, i);
        int change = (PyObject *)Py_TYPE(item) == change_type;
        if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) < (change ? 4 : 3)) {
            PyErr_SetString(PyExc_TypeError, "log items must be changes or entries");
            return NULL;
        }
        if (PyTuple_GET_ITEM(item, change ? 2 : 1) != file)
            continue;
        PyObject *kind = change ? PyTuple_GET_ITEM(item, 1) : added;
        if (kind != added && kind != modified)
            continue;
        long long size = size_of(PyTuple_GET_ITEM(item, change ? 3 : 2));
        if (size < 0)
            return NULL;
        if (kind == added) {
            n_added++;
            b_added += size;
        } else {
            n_modified++;
            b_modified += size;
        }
    }
    return Py_BuildValue("(nLnL)", n_added, b_added, n_modified, b_modified);
}

/* final_columns(state) -> (paths, nodes, types, text): the final filesystem
 * as lists in the dict's order (types: item 1 of each node's entry) and the
 * paths as "\npath0\npath1\n...\n". ``text`` is None when a path holds a
 * newline or a character past U+00FF (the caller builds and checks it). */
static PyObject *
final_columns(PyObject *self, PyObject *args)
{
    PyObject *state, *key, *value, *paths = NULL, *nodes = NULL, *types = NULL, *text = NULL;
    Py_ssize_t pos = 0, i = 0, total = 1;
    int latin1 = 0, simple = 1;
    if (!PyArg_ParseTuple(args, "O!", &PyDict_Type, &state))
        return NULL;
    Py_ssize_t n = PyDict_GET_SIZE(state);
    paths = PyList_New(n);
    nodes = PyList_New(n);
    types = PyList_New(n);
    if (paths == NULL || nodes == NULL || types == NULL)
        goto fail;
    while (PyDict_Next(state, &pos, &key, &value)) {
        PyObject *entry;
        if (i >= n || !PyUnicode_Check(key) || !PyTuple_Check(value) ||
            PyTuple_GET_SIZE(value) < 2 || !PyTuple_Check(entry = PyTuple_GET_ITEM(value, 1)) ||
            PyTuple_GET_SIZE(entry) < 2) {
            PyErr_SetString(PyExc_TypeError, "state must map paths to (layer, entry)");
            goto fail;
        }
        Py_INCREF(key);
        PyList_SET_ITEM(paths, i, key);
        Py_INCREF(value);
        PyList_SET_ITEM(nodes, i, value);
        Py_INCREF(PyTuple_GET_ITEM(entry, 1));
        PyList_SET_ITEM(types, i, PyTuple_GET_ITEM(entry, 1));
        i++;
        if (simple) {
            if (PyUnicode_KIND(key) != PyUnicode_1BYTE_KIND ||
                memchr(PyUnicode_1BYTE_DATA(key), '\n', (size_t)PyUnicode_GET_LENGTH(key)))
                simple = 0;
            else {
                latin1 |= !PyUnicode_IS_ASCII(key);
                total += PyUnicode_GET_LENGTH(key) + 1;
            }
        }
    }
    if (i != n) {
        PyErr_SetString(PyExc_RuntimeError, "the state changed while it was read");
        goto fail;
    }
    if (simple) {
        text = PyUnicode_New(total, latin1 ? 255 : 127);
        if (text == NULL)
            goto fail;
        Py_UCS1 *d = PyUnicode_1BYTE_DATA(text);
        *d++ = '\n';
        for (i = 0; i < n; i++) {
            PyObject *p = PyList_GET_ITEM(paths, i);
            Py_ssize_t len = PyUnicode_GET_LENGTH(p);
            memcpy(d, PyUnicode_1BYTE_DATA(p), (size_t)len);
            d += len;
            *d++ = '\n';
        }
    } else {
        text = Py_None;
        Py_INCREF(text);
    }
    return Py_BuildValue("(NNNN)", paths, nodes, types, text);
fail:
    Py_XDECREF(paths);
    Py_XDECREF(nodes);
    Py_XDECREF(types);
    return NULL;
}

/* shared_digests(nodes) -> indices, ascending, of the nodes (layer, entry)
 * whose entry's digest (item 8, None for none) another node's entry has too. */
static PyObject *
shared_digests(PyObject *self, PyObject *args)
{
    PyObject *nodes, *seen = NULL, *shared = NULL, *out = NULL;
    if (!PyArg_ParseTuple(args, "O!", &PyList_Type, &nodes))
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(nodes), i;
    seen = PySet_New(NULL);
    shared = PySet_New(NULL);
    out = PyList_New(0);
    if (seen == NULL || shared == NULL || out == NULL)
        goto fail;
    for (int pass = 0; pass < 2; pass++) {
        for (i = 0; i < n; i++) {
            PyObject *node = PyList_GET_ITEM(nodes, i), *entry, *digest;
            if (!PyTuple_Check(node) || PyTuple_GET_SIZE(node) < 2 ||
                !PyTuple_Check(entry = PyTuple_GET_ITEM(node, 1)) ||
                PyTuple_GET_SIZE(entry) < 9) {
                PyErr_SetString(PyExc_TypeError, "nodes must be (layer, entry) tuples");
                goto fail;
            }
            digest = PyTuple_GET_ITEM(entry, 8);
            if (digest == Py_None)
                continue;
            if (pass == 0) {
                /* A second sighting moves the digest to ``shared``. */
                int had = PySet_Contains(seen, digest);
                if (had < 0 || (had ? PySet_Add(shared, digest) : PySet_Add(seen, digest)) < 0)
                    goto fail;
            } else {
                int is = PySet_Contains(shared, digest);
                PyObject *at;
                if (is < 0)
                    goto fail;
                if (!is)
                    continue;
                at = PyLong_FromSsize_t(i);
                if (at == NULL || PyList_Append(out, at) < 0) {
                    Py_XDECREF(at);
                    goto fail;
                }
                Py_DECREF(at);
            }
        }
        if (pass == 0)
            Py_CLEAR(seen); /* before the second pass: the peak of memory is near */
    }
    Py_DECREF(shared);
    return out;
fail:
    Py_XDECREF(seen);
    Py_XDECREF(shared);
    Py_XDECREF(out);
    return NULL;
}

/* single_arena() -> bool: glibc's malloc keeps one arena for every thread
 * (M_ARENA_MAX 1) instead of one per thread; False where that cannot be set. */
static PyObject *
single_arena(PyObject *self, PyObject *noargs)
{
#if defined(__GLIBC__) && defined(M_ARENA_MAX)
    return PyBool_FromLong(mallopt(M_ARENA_MAX, 1) == 1);
#else
    Py_RETURN_FALSE;
#endif
}

static PyMethodDef methods[] = {
    {"add_new", add_new, METH_VARARGS,
     "add_new(entries, pos, index, state, children, log, hidden, whiteout, opaque, hardlink, "
     "directory, file, change_type, modified, overwritten, entry_type, added) -> position of "
     "the first entry left to Python"},
    {"tally_files", tally_files, METH_VARARGS,
     "tally_files(entries, file) -> (count, bytes) of the regular files"},
    {"tally_changes", tally_changes, METH_VARARGS,
     "tally_changes(log, change_type, file, added, modified) -> (added, added bytes, "
     "modified, modified bytes)"},
    {"shared_digests", shared_digests, METH_VARARGS,
     "shared_digests(nodes) -> indices of the nodes whose entry's digest another has"},
    {"single_arena", single_arena, METH_NOARGS,
     "single_arena() -> whether malloc now keeps one arena for every thread"},
    {"final_columns", final_columns, METH_VARARGS,
     "final_columns(state) -> (paths, nodes, types, text or None)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_union", "The replay's common case in C.", -1, methods,
};

PyMODINIT_FUNC
PyInit__union(void)
{
    PyObject *m = PyModule_Create(&module);
    if (m != NULL && PyModule_AddIntConstant(m, "api", 3) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
