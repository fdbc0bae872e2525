/* Optional accelerator for sources/storage.py: the walk of an unpacked
 * overlay layer directory, and the scan of a layer's tar-split record.
 *
 * walk(top_fd, out, ctx) -> status
 *   Appends to `out` the model.Entry tuples that storage.walk_layer's
 *   pure-Python walk gives for the directory open as `top_fd`, in the same
 *   order (every directory before its children, names in byte order):
 *   lstat only (fstatat AT_SYMLINK_NOFOLLOW), every directory opened by name
 *   relative to its parent with O_NOFOLLOW (a symlink is never followed and
 *   nothing outside the layer is reached), devices and FIFOs never opened;
 *   character devices 0/0 are whiteouts, a directory whose opaque attribute
 *   (any of ctx's names) is exactly "y" gets an OPAQUE entry after its own,
 *   a second name of an inode with links is a HARDLINK to the first, sockets
 *   are left out. A failed system call raises OSError (errno set), as the
 *   Python walk does. Status 0: done; 1: nested deeper than the limit;
 *   2: more entries than the limit.
 *   The system calls of each directory (listing, sorting, lstat) run with
 *   the GIL released, so the tar-split thread runs meanwhile.
 *
 * tar_split(buf, start, floor, checksums, slow) -> (consumed, tar_bytes, has_root, bad)
 *   Reads the whole lines of `buf` from `start` (gzip-inflated tar-split JSON lines) as
 *   storage.read_tar_split's pure-Python scan does: `consumed` is where the
 *   unfinished last line starts, tar_bytes the length of the tar the lines
 *   describe, has_root whether a file line names "./", "." or "/", bad 1
 *   when a line is of another form (the scan stops there). With floor > 0,
 *   each file of at least floor bytes puts its CRC-64 under
 *   hash(normalize(name)) in the dict `checksums`; a name or checksum that
 *   needs Python (JSON escapes, "//" or "." components, an unusual CRC text)
 *   is handed to slow(raw name, CRC text) instead, in line order.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#define DIRBUF (64 << 10)

#define DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

enum { X_ENTRY, X_FILE, X_DIR, X_SYMLINK, X_HARDLINK, X_CHAR, X_BLOCK, X_FIFO, X_WHITEOUT,
       X_OPAQUE, X_XATTRS, X_MAX_DEPTH, X_MAX_ENTRIES, CTX_LEN };

#define ST_DONE 0
#define ST_TOO_DEEP 1
#define ST_TOO_MANY 2

typedef struct {
    long long v;
    PyObject *o;
} icache_t;

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

typedef struct {
    PyObject **o;
    PyTypeObject *entry_t;
    PyObject *out;
    PyObject *links; /* (dev, ino) -> the first path */
    char **xattrs;
    Py_ssize_t n_xattrs;
    long long max_depth, max_entries;
    char *dirbuf; /* room for getdents64 */
    char *path; /* the current path, bytes */
    size_t path_cap;
    icache_t c_mode, c_uid, c_gid, c_mtime, c_size;
    PyObject *zero, *m644, *empty;
    int status;
} walk_t;

/* One directory's items: names in an arena, their lstat, sorted by name. */
typedef struct {
    char *arena;
    size_t arena_len, arena_cap;
    size_t *offs;
    struct stat *st;
    size_t n, cap;
    const char **order; /* the names, sorted */
} listing_t;

static void listing_free(listing_t *l)
{
    free(l->arena);
    free(l->offs);
    free(l->st);
    free(l->order);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int add_name(listing_t *l, const char *name)
{
    size_t len;
    if (name[0] == '.' && (name[1] == 0 || (name[1] == '.' && name[2] == 0)))
        return 0;
    len = strlen(name) + 1;
    if (l->arena_len + len > l->arena_cap) {
        size_t cap = l->arena_cap ? l->arena_cap * 2 : 4096;
        char *p;
        while (cap < l->arena_len + len)
            cap *= 2;
        p = realloc(l->arena, cap);
        if (p == NULL)
            return ENOMEM;
        l->arena = p;
        l->arena_cap = cap;
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        size_t *p = realloc(l->offs, cap * sizeof(size_t));
        if (p == NULL)
            return ENOMEM;
        l->offs = p;
        l->cap = cap;
    }
    memcpy(l->arena + l->arena_len, name, len);
    l->offs[l->n++] = l->arena_len;
    l->arena_len += len;
    return 0;
}

#if defined(__linux__) && defined(SYS_getdents64)
/* The names straight from getdents64 on `fd` (read from its start): none of
 * the duplicate descriptor, fstat and fcntl calls of fdopendir. */
struct dirent64_k {
    unsigned long long d_ino;
    long long d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

static int read_names(int fd, listing_t *l, char *buf, size_t size)
{
    for (;;) {
        long n = syscall(SYS_getdents64, fd, buf, size);
        long pos = 0;
        if (n < 0)
            return errno;
        if (n == 0)
            return 0;
        while (pos < n) {
            struct dirent64_k *de = (struct dirent64_k *)(buf + pos);
            int e = add_name(l, de->d_name);
            if (e)
                return e;
            pos += de->d_reclen;
        }
    }
}
#else
static int read_names(int fd, listing_t *l, char *buf, size_t size)
{
    int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    DIR *d;
    struct dirent *de;
    int e = 0;
    if (dup_fd < 0)
        return errno;
    d = fdopendir(dup_fd);
    if (d == NULL) {
        e = errno;
        close(dup_fd);
        return e;
    }
    for (;;) {
        errno = 0;
        de = readdir(d);
        if (de == NULL) {
            e = errno;
            break;
        }
        e = add_name(l, de->d_name);
        if (e)
            break;
    }
    closedir(d);
    return e;
}
#endif

/* List, sort and lstat the items of the directory open as `fd` (without the
 * GIL: no Python object is touched). Returns 0, or an errno. `buf` is room
 * for the directory reads. */
static int list_dir(int fd, listing_t *l, char *buf, size_t size)
{
    size_t i;
    int e = read_names(fd, l, buf, size);
    if (e || l->n == 0)
        return e;
    l->order = malloc(l->n * sizeof(char *));
    l->st = malloc(l->n * sizeof(struct stat));
    if (l->order == NULL || l->st == NULL)
        return ENOMEM;
    for (i = 0; i < l->n; i++)
        l->order[i] = l->arena + l->offs[i];
    /* Names in byte order (strcmp compares as unsigned char), as Go's
     * filepath.Walk and the Python walk's sort of the encoded names. */
    qsort(l->order, l->n, sizeof(char *), by_name);
    for (i = 0; i < l->n; i++)
        if (fstatat(fd, l->order[i], &l->st[i], AT_SYMLINK_NOFOLLOW) < 0)
            return errno;
    return 0;
}

static PyObject *make_entry(walk_t *w, PyObject *path, PyObject *typ, PyObject *size,
                            PyObject *mode, PyObject *uid, PyObject *gid, PyObject *mtime,
                            PyObject *link)
{
    /* As tuple_subtype_new does: allocate the subclass, fill the items.
     * Takes a reference to every argument (steals none). */
    PyObject *e = w->entry_t->tp_alloc(w->entry_t, 9);
    if (e == NULL)
        return NULL;
    Py_INCREF(path);
    PyTuple_SET_ITEM(e, 0, path);
    Py_INCREF(typ);
    PyTuple_SET_ITEM(e, 1, typ);
    Py_INCREF(size);
    PyTuple_SET_ITEM(e, 2, size);
    Py_INCREF(mode);
    PyTuple_SET_ITEM(e, 3, mode);
    Py_INCREF(uid);
    PyTuple_SET_ITEM(e, 4, uid);
    Py_INCREF(gid);
    PyTuple_SET_ITEM(e, 5, gid);
    Py_INCREF(mtime);
    PyTuple_SET_ITEM(e, 6, mtime);
    Py_INCREF(link);
    PyTuple_SET_ITEM(e, 7, link);
    Py_INCREF(Py_None);
    PyTuple_SET_ITEM(e, 8, Py_None);
    return e;
}

/* Append an entry with the metadata of `st` (or the defaults of a marker). */
static int append(walk_t *w, PyObject *path, PyObject *typ, const struct stat *st,
                  long long size, PyObject *link)
{
    PyObject *so, *mo, *uo, *go, *to, *e;
    int r;
    if (st == NULL) {
        e = make_entry(w, path, typ, w->zero, w->m644, w->zero, w->zero, w->zero, w->empty);
    } else {
        /* The whole seconds of the mtime (floor, as Go's Unix() and the
         * Python walk's st_mtime_ns // 10**9). */
        so = cached_int(&w->c_size, size);
        mo = cached_int(&w->c_mode, (long long)(st->st_mode & 07777));
        uo = cached_int(&w->c_uid, (long long)st->st_uid);
        go = cached_int(&w->c_gid, (long long)st->st_gid);
        to = cached_int(&w->c_mtime, (long long)st->st_mtim.tv_sec);
        e = (so && mo && uo && go && to)
                ? make_entry(w, path, typ, so, mo, uo, go, to, link ? link : w->empty)
                : NULL;
        Py_XDECREF(so);
        Py_XDECREF(mo);
        Py_XDECREF(uo);
        Py_XDECREF(go);
        Py_XDECREF(to);
    }
    if (e == NULL)
        return -1;
    r = PyList_Append(w->out, e);
    Py_DECREF(e);
    return r;
}

static int path_room(walk_t *w, size_t need)
{
    if (need <= w->path_cap)
        return 0;
    while (w->path_cap < need)
        w->path_cap *= 2;
    w->path = PyMem_Realloc(w->path, w->path_cap);
    if (w->path == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

static int is_opaque(walk_t *w, int fd)
{
    Py_ssize_t i;
    char value[2];
    for (i = 0; i < w->n_xattrs; i++)
        if (fgetxattr(fd, w->xattrs[i], value, sizeof(value)) == 1 && value[0] == 'y')
            return 1;
    return 0;
}

static int set_errno_error(int e)
{
    errno = e;
    PyErr_SetFromErrno(PyExc_OSError);
    return -1;
}

/* Walk the directory open as `fd`, whose path (with a trailing '/' unless
 * it is the top) fills w->path[0:plen]; `depth` is the number of directories
 * open (the top is 1). Returns 0 (w->status may say a limit was hit) or -1
 * with an exception set. Closes nothing: the caller owns `fd`. */
static int walk_dir(walk_t *w, int fd, size_t plen, long long depth)
{
    listing_t l;
    size_t i;
    int err, rc = -1;
    memset(&l, 0, sizeof(l));
    if (PyErr_CheckSignals() < 0)
        return -1;
    Py_BEGIN_ALLOW_THREADS
    err = list_dir(fd, &l, w->dirbuf, DIRBUF);
    Py_END_ALLOW_THREADS
    if (err) {
        set_errno_error(err);
        goto done;
    }
    for (i = 0; i < l.n; i++) {
        const char *name = l.order[i];
        const struct stat *st = &l.st[i];
        size_t nlen = strlen(name), len = plen + nlen;
        mode_t fmt = st->st_mode & S_IFMT;
        PyObject *path;
        int r;
        if (fmt == S_IFSOCK)
            continue; /* a tar stores no sockets */
        if (path_room(w, len + 2) < 0)
            goto done;
        memcpy(w->path + plen, name, nlen);
        path = PyUnicode_DecodeFSDefaultAndSize(w->path, (Py_ssize_t)len);
        if (path == NULL)
            goto done;
        if (fmt == S_IFDIR) {
            int sub, opaque = 0;
            r = append(w, path, w->o[X_DIR], st, 0, NULL);
            if (r < 0) {
                Py_DECREF(path);
                goto done;
            }
            if (depth >= w->max_depth) {
                Py_DECREF(path);
                w->status = ST_TOO_DEEP;
                rc = 0;
                goto done;
            }
            Py_BEGIN_ALLOW_THREADS
            sub = openat(fd, name, DIR_FLAGS);
            err = errno;
            if (sub >= 0)
                opaque = is_opaque(w, sub);
            Py_END_ALLOW_THREADS
            if (sub < 0) {
                Py_DECREF(path);
                set_errno_error(err);
                goto done;
            }
            if (opaque && append(w, path, w->o[X_OPAQUE], NULL, 0, NULL) < 0) {
                close(sub);
                Py_DECREF(path);
                goto done;
            }
            Py_DECREF(path);
            w->path[len] = '/';
            r = walk_dir(w, sub, len + 1, depth + 1);
            close(sub);
            if (r < 0 || w->status != ST_DONE) {
                rc = r;
                goto done;
            }
            continue;
        }
        if (fmt == S_IFCHR && st->st_rdev == 0) {
            r = append(w, path, w->o[X_WHITEOUT], NULL, 0, NULL);
            Py_DECREF(path);
            if (r < 0)
                goto done;
            continue;
        }
        if (st->st_nlink > 1) {
            PyObject *key = Py_BuildValue("(KK)", (unsigned long long)st->st_dev,
                                          (unsigned long long)st->st_ino);
            PyObject *first;
            if (key == NULL) {
                Py_DECREF(path);
                goto done;
            }
            first = PyDict_GetItemWithError(w->links, key);
            if (first != NULL) {
                Py_DECREF(key);
                r = append(w, path, w->o[X_HARDLINK], st, 0, first);
                Py_DECREF(path);
                if (r < 0)
                    goto done;
                continue;
            }
            r = PyErr_Occurred() ? -1 : PyDict_SetItem(w->links, key, path);
            Py_DECREF(key);
            if (r < 0) {
                Py_DECREF(path);
                goto done;
            }
        }
        if (fmt == S_IFREG) {
            r = append(w, path, w->o[X_FILE], st, (long long)st->st_size, NULL);
        } else if (fmt == S_IFLNK) {
            char target[PATH_MAX + 1];
            ssize_t n;
            PyObject *t;
            Py_BEGIN_ALLOW_THREADS
            n = readlinkat(fd, name, target, sizeof(target));
            err = errno;
            Py_END_ALLOW_THREADS
            if (n < 0) {
                Py_DECREF(path);
                set_errno_error(err);
                goto done;
            }
            t = PyUnicode_DecodeFSDefaultAndSize(target, n);
            r = t == NULL ? -1 : append(w, path, w->o[X_SYMLINK], st, 0, t);
            Py_XDECREF(t);
        } else if (fmt == S_IFCHR) {
            r = append(w, path, w->o[X_CHAR], st, 0, NULL);
        } else if (fmt == S_IFBLK) {
            r = append(w, path, w->o[X_BLOCK], st, 0, NULL);
        } else if (fmt == S_IFIFO) {
            r = append(w, path, w->o[X_FIFO], st, 0, NULL);
        } else {
            Py_DECREF(path);
            continue;
        }
        Py_DECREF(path);
        if (r < 0)
            goto done;
        if (PyList_GET_SIZE(w->out) > w->max_entries) {
            w->status = ST_TOO_MANY;
            rc = 0;
            goto done;
        }
    }
    rc = 0;
done:
    listing_free(&l);
    return rc;
}

static PyObject *walk(PyObject *self, PyObject *args)
{
    int top;
    PyObject *out, *ctx, *xattrs, *result = NULL, *o[CTX_LEN];
    walk_t w;
    Py_ssize_t i;
    memset(&w, 0, sizeof(w));
    if (!PyArg_ParseTuple(args, "iO!O!", &top, &PyList_Type, &out, &PyTuple_Type, &ctx))
        return NULL;
    if (PyTuple_GET_SIZE(ctx) != CTX_LEN) {
        PyErr_SetString(PyExc_ValueError, "bad walk context");
        return NULL;
    }
    for (i = 0; i < CTX_LEN; i++)
        o[i] = PyTuple_GET_ITEM(ctx, i);
    w.o = o;
    if (!PyType_Check(w.o[X_ENTRY]) ||
        !PyType_IsSubtype((PyTypeObject *)w.o[X_ENTRY], &PyTuple_Type)) {
        PyErr_SetString(PyExc_TypeError, "Entry must be a tuple subclass");
        return NULL;
    }
    xattrs = w.o[X_XATTRS];
    if (!PyTuple_Check(xattrs)) {
        PyErr_SetString(PyExc_TypeError, "the attribute names must be a tuple of bytes");
        return NULL;
    }
    w.entry_t = (PyTypeObject *)w.o[X_ENTRY];
    w.out = out;
    w.max_depth = PyLong_AsLongLong(w.o[X_MAX_DEPTH]);
    w.max_entries = PyLong_AsLongLong(w.o[X_MAX_ENTRIES]);
    if (PyErr_Occurred())
        return NULL;
    w.n_xattrs = PyTuple_GET_SIZE(xattrs);
    w.xattrs = PyMem_Calloc((size_t)w.n_xattrs + 1, sizeof(char *));
    w.path_cap = 4096;
    w.path = PyMem_Malloc(w.path_cap);
    w.dirbuf = PyMem_Malloc(DIRBUF);
    w.links = PyDict_New();
    w.zero = PyLong_FromLong(0);
    w.m644 = PyLong_FromLong(0644);
    w.empty = PyUnicode_New(0, 0);
    if (w.xattrs == NULL || w.path == NULL || w.dirbuf == NULL || w.links == NULL || w.zero == NULL ||
        w.m644 == NULL || w.empty == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (i = 0; i < w.n_xattrs; i++) {
        PyObject *x = PyTuple_GET_ITEM(xattrs, i);
        if (!PyBytes_Check(x)) {
            PyErr_SetString(PyExc_TypeError, "the attribute names must be a tuple of bytes");
            goto done;
        }
        w.xattrs[i] = PyBytes_AS_STRING(x);
    }
    if (lseek(top, 0, SEEK_SET) < 0) { /* the listing reads from the start */
        PyErr_SetFromErrno(PyExc_OSError);
        goto done;
    }
    if (walk_dir(&w, top, 0, 1) < 0)
        goto done;
    result = PyLong_FromLong(w.status);
done:
    PyMem_Free(w.xattrs);
    PyMem_Free(w.path);
    PyMem_Free(w.dirbuf);
    Py_XDECREF(w.links);
    Py_XDECREF(w.zero);
    Py_XDECREF(w.m644);
    Py_XDECREF(w.empty);
    Py_XDECREF(w.c_mode.o);
    Py_XDECREF(w.c_uid.o);
    Py_XDECREF(w.c_gid.o);
    Py_XDECREF(w.c_mtime.o);
    Py_XDECREF(w.c_size.o);
    return result;
}

/* ------------------------------------------------------------ tar-split */

static const char SEGMENT[] = "{\"type\":2,\"payload\":\"";
static const char FILELINE[] = "{\"type\":1,";
static const char NAMED[] = "{\"type\":1,\"name\":\"";
static const char SIZE_KEY[] = ",\"size\":";
static const char PAYLOAD_KEY[] = ",\"payload\":\"";
static const char *ROOTS[] = {"{\"type\":1,\"name\":\"./\",", "{\"type\":1,\"name\":\".\",",
                              "{\"type\":1,\"name\":\"/\","};

static int starts(const char *p, size_t n, const char *prefix)
{
    size_t k = strlen(prefix);
    return n >= k && memcmp(p, prefix, k) == 0;
}

static int is_b64(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '+' || c == '/' || c == '=';
}

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* The sizes in `,"size":DIGITS,` anywhere in the line (as the Python
 * scan's findall over the file lines). -1 when a number is absurd. */
static long long line_sizes(const char *p, size_t n)
{
    long long total = 0;
    const char *end = p + n, *q = p;
    size_t k = sizeof(SIZE_KEY) - 1;
    while ((q = memmem(q, (size_t)(end - q), SIZE_KEY, k)) != NULL) {
        const char *d = q + k;
        long long v = 0;
        const char *s = d;
        while (d < end && *d >= '0' && *d <= '9') {
            if (v > (1LL << 56))
                return -1;
            v = v * 10 + (*d - '0');
            d++;
        }
        if (d > s && d < end && *d == ',') {
            total += v;
            q = d; /* the ',' may open the next match */
        } else {
            q = q + 1;
        }
    }
    return total;
}

/* A file line's name, size and CRC as the Python scan's _NAMED_FILE
 * expression matches them: returns 1 and fills the spans, else 0. */
static int named_file(const char *p, size_t n, const char **name, size_t *name_len,
                      int *escaped, long long *size, const char **crc, size_t *crc_len)
{
    size_t i = sizeof(NAMED) - 1, k;
    long long v = 0;
    if (!starts(p, n, NAMED))
        return 0;
    *name = p + i;
    *escaped = 0;
    while (i < n && p[i] != '"') {
        if (p[i] == '\\') {
            if (i + 1 >= n)
                return 0;
            *escaped = 1;
            i += 2;
        } else {
            i++;
        }
    }
    if (i >= n)
        return 0;
    *name_len = (size_t)(p + i - *name);
    i++; /* the closing quote */
    k = sizeof(SIZE_KEY) - 1;
    if (n - i < k || memcmp(p + i, SIZE_KEY, k) != 0)
        return 0;
    i += k;
    k = i;
    while (i < n && p[i] >= '0' && p[i] <= '9') {
        if (v > (1LL << 56))
            return 0;
        v = v * 10 + (p[i] - '0');
        i++;
    }
    if (i == k)
        return 0;
    *size = v;
    k = sizeof(PAYLOAD_KEY) - 1;
    if (n - i < k || memcmp(p + i, PAYLOAD_KEY, k) != 0)
        return 0;
    i += k;
    *crc = p + i;
    while (i < n && is_b64((unsigned char)p[i]))
        i++;
    if (i >= n || p[i] != '"' || p + i == *crc)
        return 0;
    *crc_len = (size_t)(p + i - *crc);
    return 1;
}

/* The name as a union key (layerscan.normalize) when that needs no more
 * than dropping a leading "./" and the slashes at the ends; NULL (no error
 * set) when only the Python path can tell. */
static PyObject *plain_key(const char *s, size_t n)
{
    size_t i;
    if (n >= 2 && s[0] == '.' && s[1] == '/') {
        s += 2;
        n -= 2;
    }
    while (n && s[0] == '/') {
        s++;
        n--;
    }
    while (n && s[n - 1] == '/')
        n--;
    if (n == 1 && s[0] == '.')
        return NULL;
    if (n >= 2 && s[0] == '.' && s[1] == '/')
        return NULL;
    if (n >= 2 && s[n - 1] == '.' && s[n - 2] == '/')
        return NULL;
    for (i = 0; i + 1 < n; i++) {
        if (s[i] == '/' && (s[i + 1] == '/' || (s[i + 1] == '.' && i + 2 < n && s[i + 2] == '/')))
            return NULL;
    }
    return PyUnicode_DecodeUTF8(s, (Py_ssize_t)n, "strict");
}

static PyObject *tar_split(PyObject *self, PyObject *args)
{
    Py_buffer view;
    Py_ssize_t start;
    long long floor;
    PyObject *checksums, *slow, *result = NULL;
    const char *buf, *p, *end;
    size_t n;
    long long total = 0;
    int root = 0, bad = 0;
    if (!PyArg_ParseTuple(args, "y*nLO!O", &view, &start, &floor, &PyDict_Type, &checksums,
                          &slow))
        return NULL;
    buf = view.buf;
    n = (size_t)view.len;
    if (start < 0 || (size_t)start > n) {
        PyErr_SetString(PyExc_ValueError, "start outside the buffer");
        goto done;
    }
    p = buf + start;
    end = buf + n;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len;
        if (nl == NULL)
            break; /* an unfinished line: the caller hands it back */
        len = (size_t)(nl - p);
        if (len == 0) {
            p = nl + 1;
            continue;
        }
        if (starts(p, len, SEGMENT)) {
            size_t k = sizeof(SEGMENT) - 1;
            const char *q = memchr(p + k, '"', len - k);
            size_t chars, pads = 0;
            const char *c;
            if (q == NULL) {
                bad = 1;
                break;
            }
            chars = (size_t)(q - (p + k));
            /* As the Python scan: every '=' of the line (padding ends the
             * payload: memchr finds none before it, but counts any). */
            for (c = memchr(p, '=', len); c != NULL; c = memchr(c + 1, '=', (size_t)(nl - c - 1)))
                pads++;
            total += (long long)(chars / 4 * 3) - (long long)pads;
        } else if (starts(p, len, FILELINE)) {
            long long s = line_sizes(p, len);
            const char *name, *crc;
            size_t name_len, crc_len;
            int escaped;
            long long size;
            if (s < 0) {
                bad = 1;
                break;
            }
            total += s;
            if (!root && (starts(p, len, ROOTS[0]) || starts(p, len, ROOTS[1]) ||
                          starts(p, len, ROOTS[2])))
                root = 1;
            if (floor > 0 && named_file(p, len, &name, &name_len, &escaped, &size, &crc,
                                        &crc_len) &&
                size >= floor) {
                PyObject *key = NULL, *value = NULL;
                /* 8 bytes in base64: 11 characters (66 bits, the last 2
                 * zero) and one '='. Any other text goes to Python. */
                unsigned long long v = 0;
                int ok = crc_len == 12 && crc[11] == '=', last = 0;
                size_t j;
                for (j = 0; ok && j < 11; j++) {
                    int b = b64_value((unsigned char)crc[j]);
                    if (b < 0)
                        ok = 0;
                    else if (j < 10)
                        v = (v << 6) | (unsigned)b;
                    else
                        last = b;
                }
                if (ok && (last & 3) == 0 && !escaped) {
                    v = (v << 4) | (unsigned)(last >> 2);
                    key = plain_key(name, name_len);
                    if (key == NULL && PyErr_Occurred()) {
                        if (!PyErr_ExceptionMatches(PyExc_UnicodeDecodeError))
                            goto done;
                        PyErr_Clear(); /* not UTF-8: no checksum (the Python rule) */
                        p = nl + 1;
                        continue;
                    }
                }
                if (key != NULL) {
                    Py_hash_t h = PyObject_Hash(key);
                    Py_DECREF(key);
                    if (h == -1)
                        goto done;
                    key = PyLong_FromSsize_t(h);
                    value = PyLong_FromUnsignedLongLong(v);
                    if (key == NULL || value == NULL ||
                        PyDict_SetItem(checksums, key, value) < 0) {
                        Py_XDECREF(key);
                        Py_XDECREF(value);
                        goto done;
                    }
                    Py_DECREF(key);
                    Py_DECREF(value);
                } else { /* in line order: a later line of the same name wins */
                    PyObject *t = PyObject_CallFunction(slow, "y#y#", name, (Py_ssize_t)name_len,
                                                        crc, (Py_ssize_t)crc_len);
                    if (t == NULL)
                        goto done;
                    Py_DECREF(t);
                }
            }
        } else {
            bad = 1;
            break;
        }
        p = nl + 1;
    }
    result = Py_BuildValue("(nLii)", (Py_ssize_t)(p - buf), total, root, bad);
done:
    PyBuffer_Release(&view);
    return result;
}

static PyMethodDef methods[] = {
    {"walk", walk, METH_VARARGS, "Walk a layer directory into Entry tuples."},
    {"tar_split", tar_split, METH_VARARGS, "Scan the whole lines of a tar-split record."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_storagewalk", "Optional C accelerator for sources/storage.py.",
    -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__storagewalk(void)
{
    return PyModule_Create(&module);
}
