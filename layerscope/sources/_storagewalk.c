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
 *
 *   The walk runs in two parts. The system calls (listing, sorting, lstat,
 *   opaque attributes, link targets) fill plain C records with the GIL
 *   released for the whole layer, except a moment every few thousand
 *   records to see a Ctrl+C; then the entries are made of the records in
 *   one go. Releasing the GIL per directory instead made the walk queue for
 *   it tens of thousands of times behind a busy thread (the TUI's).
 *
 * tar_split(buf, start, floor, checksums, slow) -> (consumed, tar_bytes, has_root, bad)
 *   Reads the whole lines of `buf` from `start` (gzip-inflated tar-split JSON
 *   lines) as storage.read_tar_split's pure-Python scan does: `consumed` is
 *   where the unfinished last line starts, tar_bytes the length of the tar
 *   the lines describe, has_root whether a file line names "./", "." or "/",
 *   bad 1 when a line is of another form (the scan stops there). With
 *   floor > 0, each file of at least floor bytes puts its CRC-64 under
 *   hash(normalize(name)) in the dict `checksums`; a name or checksum that
 *   needs Python (JSON escapes, "//" or "." components, an unusual CRC text)
 *   is handed to slow(raw name, CRC text) instead, in line order.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include "../_intcache.h"
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
#define CHECK_EVERY 16384 /* records between looks for a Ctrl+C */

enum { X_ENTRY, X_FILE, X_DIR, X_SYMLINK, X_HARDLINK, X_CHAR, X_BLOCK, X_FIFO, X_WHITEOUT,
       X_OPAQUE, X_XATTRS, X_MAX_DEPTH, X_MAX_ENTRIES, CTX_LEN };

#define ST_DONE 0
#define ST_TOO_DEEP 1
#define ST_TOO_MANY 2

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

/* ------------------------------------------------------------ the walk */

enum { K_DIR, K_OPAQUE, K_WHITEOUT, K_FILE, K_SYMLINK, K_HARDLINK, K_CHAR, K_BLOCK, K_FIFO };

/* One entry to be: its path (and link target) in the arena, its metadata. */
typedef struct {
    size_t path_off, link_off;
    long long mtime, size;
    unsigned int path_len, link_len, mode, uid, gid;
    unsigned char kind;
} rec_t;

typedef struct {
    unsigned long long dev, ino;
    size_t path_off; /* the first path of the inode, in the arena */
    unsigned int path_len;
    int used;
} slot_t;

typedef struct {
    rec_t *recs;
    size_t n, cap;
    char *arena;
    size_t alen, acap;
    slot_t *slots; /* (dev, ino) of inodes with links: open addressing */
    size_t nslots, scap;
    const char **xattrs;
    Py_ssize_t n_xattrs;
    long long max_depth, max_entries;
    char *dirbuf;
    char *path; /* the current path, bytes */
    size_t path_cap;
    int status;
    int err;         /* an errno: a system call failed */
    int interrupted; /* a Python exception is set (Ctrl+C) */
    size_t next_check;
    PyThreadState *ts;
} walk_t;

static int arena_add(walk_t *w, const char *s, size_t len, size_t *off)
{
    if (w->alen + len > w->acap) {
        size_t cap = w->acap ? w->acap * 2 : (1 << 20);
        char *p;
        while (cap < w->alen + len)
            cap *= 2;
        p = realloc(w->arena, cap);
        if (p == NULL)
            return ENOMEM;
        w->arena = p;
        w->acap = cap;
    }
    memcpy(w->arena + w->alen, s, len);
    *off = w->alen;
    w->alen += len;
    return 0;
}

/* A new record for the path w->path[0:len], metadata from `st` (NULL: a
 * marker's defaults). */
static rec_t *add_rec(walk_t *w, int kind, size_t len, const struct stat *st)
{
    rec_t *r;
    size_t off;
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 4096;
        rec_t *p = realloc(w->recs, cap * sizeof(rec_t));
        if (p == NULL) {
            w->err = ENOMEM;
            return NULL;
        }
        w->recs = p;
        w->cap = cap;
    }
    if ((w->err = arena_add(w, w->path, len, &off)) != 0)
        return NULL;
    r = &w->recs[w->n++];
    memset(r, 0, sizeof(*r));
    r->kind = (unsigned char)kind;
    r->path_off = off;
    r->path_len = (unsigned int)len;
    if (st != NULL) {
        r->mode = (unsigned int)(st->st_mode & 07777);
        r->uid = (unsigned int)st->st_uid;
        r->gid = (unsigned int)st->st_gid;
        /* The whole seconds, floored (Go's Unix(); the Python walk's
         * st_mtime_ns // 10**9). */
        r->mtime = (long long)st->st_mtim.tv_sec;
    } else {
        r->mode = 0644;
    }
    return r;
}

static size_t slot_of(const slot_t *slots, size_t cap, unsigned long long dev,
                      unsigned long long ino)
{
    size_t i = (size_t)((ino * 0x9E3779B97F4A7C15ULL) ^ dev) & (cap - 1);
    while (slots[i].used && (slots[i].dev != dev || slots[i].ino != ino))
        i = (i + 1) & (cap - 1);
    return i;
}

/* The first path of (dev, ino) when seen before (returns 1); else remember
 * w->path[0:len] as that first path (returns 0). -1 when out of memory. */
static int link_seen(walk_t *w, const struct stat *st, size_t len, size_t *off,
                     unsigned int *plen)
{
    unsigned long long dev = (unsigned long long)st->st_dev, ino = (unsigned long long)st->st_ino;
    size_t i;
    if ((w->nslots + 1) * 2 > w->scap) {
        size_t cap = w->scap ? w->scap * 2 : 1024, j;
        slot_t *p = calloc(cap, sizeof(slot_t));
        if (p == NULL)
            return -1;
        for (j = 0; j < w->scap; j++)
            if (w->slots[j].used)
                p[slot_of(p, cap, w->slots[j].dev, w->slots[j].ino)] = w->slots[j];
        free(w->slots);
        w->slots = p;
        w->scap = cap;
    }
    i = slot_of(w->slots, w->scap, dev, ino);
    if (w->slots[i].used) {
        *off = w->slots[i].path_off;
        *plen = w->slots[i].path_len;
        return 1;
    }
    if (arena_add(w, w->path, len, &w->slots[i].path_off) != 0)
        return -1;
    w->slots[i].dev = dev;
    w->slots[i].ino = ino;
    w->slots[i].path_len = (unsigned int)len;
    w->slots[i].used = 1;
    w->nslots++;
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

static int path_room(walk_t *w, size_t need)
{
    char *p;
    size_t cap = w->path_cap;
    if (need <= cap)
        return 0;
    while (cap < need)
        cap *= 2;
    p = realloc(w->path, cap);
    if (p == NULL)
        return ENOMEM;
    w->path = p;
    w->path_cap = cap;
    return 0;
}

/* Take the GIL a moment to see a Ctrl+C; 0 to go on. */
static int interrupted(walk_t *w)
{
    int r;
    if (w->n < w->next_check)
        return 0;
    w->next_check = w->n + CHECK_EVERY;
    PyEval_RestoreThread(w->ts);
    r = PyErr_CheckSignals();
    w->ts = PyEval_SaveThread();
    if (r < 0)
        w->interrupted = 1;
    return r < 0;
}

/* Collect the records of the directory open as `fd`, whose path (with a
 * trailing '/' unless it is the top) fills w->path[0:plen]; `depth` is the
 * number of directories open (the top is 1). Without the GIL. Returns 0, or
 * -1 when the walk stops (w->err, w->status or w->interrupted says why).
 * The caller owns `fd`. */
static int collect(walk_t *w, int fd, size_t plen, long long depth)
{
    listing_t l;
    size_t i;
    int rc = -1;
    memset(&l, 0, sizeof(l));
    if (interrupted(w))
        return -1;
    if ((w->err = list_dir(fd, &l, w->dirbuf, DIRBUF)) != 0)
        goto done;
    for (i = 0; i < l.n; i++) {
        const char *name = l.order[i];
        const struct stat *st = &l.st[i];
        size_t nlen = strlen(name), len = plen + nlen;
        mode_t fmt = st->st_mode & S_IFMT;
        rec_t *r;
        int kind;
        if (fmt == S_IFSOCK)
            continue; /* a tar stores no sockets */
        if ((w->err = path_room(w, len + 2)) != 0)
            goto done;
        memcpy(w->path + plen, name, nlen);
        if (fmt == S_IFDIR) {
            int sub, opaque, r2;
            if (add_rec(w, K_DIR, len, st) == NULL)
                goto done;
            if (depth >= w->max_depth) {
                w->status = ST_TOO_DEEP;
                goto done;
            }
            sub = openat(fd, name, DIR_FLAGS);
            if (sub < 0) {
                w->err = errno;
                goto done;
            }
            opaque = is_opaque(w, sub);
            if (opaque && add_rec(w, K_OPAQUE, len, NULL) == NULL) {
                close(sub);
                goto done;
            }
            w->path[len] = '/';
            r2 = collect(w, sub, len + 1, depth + 1);
            close(sub);
            if (r2 < 0)
                goto done;
            continue;
        }
        if (fmt == S_IFCHR && st->st_rdev == 0) {
            if (add_rec(w, K_WHITEOUT, len, NULL) == NULL)
                goto done;
            continue;
        }
        if (st->st_nlink > 1) {
            size_t off;
            unsigned int first_len;
            int seen = link_seen(w, st, len, &off, &first_len);
            if (seen < 0) {
                w->err = ENOMEM;
                goto done;
            }
            if (seen) {
                r = add_rec(w, K_HARDLINK, len, st);
                if (r == NULL)
                    goto done;
                r->link_off = off;
                r->link_len = first_len;
                continue;
            }
        }
        if (fmt == S_IFREG)
            kind = K_FILE;
        else if (fmt == S_IFLNK)
            kind = K_SYMLINK;
        else if (fmt == S_IFCHR)
            kind = K_CHAR;
        else if (fmt == S_IFBLK)
            kind = K_BLOCK;
        else if (fmt == S_IFIFO)
            kind = K_FIFO;
        else
            continue;
        r = add_rec(w, kind, len, st);
        if (r == NULL)
            goto done;
        if (kind == K_FILE) {
            r->size = (long long)st->st_size;
        } else if (kind == K_SYMLINK) {
            char target[PATH_MAX + 1];
            ssize_t n = readlinkat(fd, name, target, sizeof(target));
            size_t off;
            if (n < 0) {
                w->err = errno;
                goto done;
            }
            if ((w->err = arena_add(w, target, (size_t)n, &off)) != 0)
                goto done;
            r = &w->recs[w->n - 1]; /* the arena moved, the records did not */
            r->link_off = off;
            r->link_len = (unsigned int)n;
        }
        if ((long long)w->n > w->max_entries) {
            w->status = ST_TOO_MANY;
            goto done;
        }
    }
    rc = 0;
done:
    listing_free(&l);
    return rc;
}

/* Sizes and modes below these share one int object each (the last-value
 * cache misses when files alternate): a few MB less for a big image. */
#define SHARED_SIZES 65536
#define SHARED_MODES 4096

static PyObject *table_int(PyObject **table, long long n, icache_t *c, long long v)
{
    if (v >= 0 && v < n) {
        if (table[v] == NULL && (table[v] = PyLong_FromLongLong(v)) == NULL)
            return NULL;
        Py_INCREF(table[v]);
        return table[v];
    }
    return cached_int(c, v);
}

/* The Entry tuples of the records, appended to `out`; 0 or -1. */
static int make_entries(walk_t *w, PyObject **o, PyObject *out)
{
    PyTypeObject *entry_t = (PyTypeObject *)o[X_ENTRY];
    PyObject *kinds[] = {o[X_DIR],      o[X_OPAQUE], o[X_WHITEOUT], o[X_FILE], o[X_SYMLINK],
                         o[X_HARDLINK], o[X_CHAR],   o[X_BLOCK],    o[X_FIFO]};
    icache_t c[5];
    PyObject *empty = PyUnicode_New(0, 0), *zero = PyLong_FromLong(0),
             *m644 = PyLong_FromLong(0644);
    PyObject **sizes = calloc(SHARED_SIZES + SHARED_MODES, sizeof(PyObject *));
    PyObject **modes = sizes + SHARED_SIZES;
    size_t i;
    int rc = -1, k;
    memset(c, 0, sizeof(c));
    if (sizes == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    if (empty == NULL || zero == NULL || m644 == NULL)
        goto done;
    for (i = 0; i < w->n; i++) {
        const rec_t *r = &w->recs[i];
        PyObject *e = entry_t->tp_alloc(entry_t, 9), *items[9];
        if (e == NULL)
            goto done;
        items[0] = PyUnicode_DecodeFSDefaultAndSize(w->arena + r->path_off, r->path_len);
        items[1] = kinds[r->kind];
        Py_INCREF(items[1]);
        if (r->kind == K_OPAQUE || r->kind == K_WHITEOUT) {
            items[2] = zero, items[3] = m644, items[4] = zero, items[5] = zero;
            items[6] = zero, items[7] = empty;
            for (k = 2; k < 8; k++)
                Py_INCREF(items[k]);
        } else {
            items[2] = table_int(sizes, SHARED_SIZES, &c[0], r->size);
            items[3] = table_int(modes, SHARED_MODES, &c[1], r->mode);
            items[4] = cached_int(&c[2], r->uid);
            items[5] = cached_int(&c[3], r->gid);
            items[6] = cached_int(&c[4], r->mtime);
            if (r->kind == K_SYMLINK || r->kind == K_HARDLINK) {
                items[7] = PyUnicode_DecodeFSDefaultAndSize(w->arena + r->link_off, r->link_len);
            } else {
                items[7] = empty;
                Py_INCREF(empty);
            }
        }
        items[8] = Py_None;
        Py_INCREF(Py_None);
        for (k = 0; k < 9; k++) /* the tuple owns them, NULL or not */
            PyTuple_SET_ITEM(e, k, items[k]);
        for (k = 0; k < 9; k++)
            if (items[k] == NULL) {
                Py_DECREF(e);
                goto done;
            }
        k = PyList_Append(out, e);
        Py_DECREF(e);
        if (k < 0)
            goto done;
    }
    rc = 0;
done:
    if (sizes != NULL) {
        for (k = 0; k < SHARED_SIZES + SHARED_MODES; k++)
            Py_XDECREF(sizes[k]);
        free(sizes);
    }
    for (k = 0; k < 5; k++)
        Py_XDECREF(c[k].o);
    Py_XDECREF(empty);
    Py_XDECREF(zero);
    Py_XDECREF(m644);
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
    if (!PyType_Check(o[X_ENTRY]) ||
        !PyType_IsSubtype((PyTypeObject *)o[X_ENTRY], &PyTuple_Type)) {
        PyErr_SetString(PyExc_TypeError, "Entry must be a tuple subclass");
        return NULL;
    }
    xattrs = o[X_XATTRS];
    if (!PyTuple_Check(xattrs)) {
        PyErr_SetString(PyExc_TypeError, "the attribute names must be a tuple of bytes");
        return NULL;
    }
    w.max_depth = PyLong_AsLongLong(o[X_MAX_DEPTH]);
    w.max_entries = PyLong_AsLongLong(o[X_MAX_ENTRIES]);
    if (PyErr_Occurred())
        return NULL;
    w.n_xattrs = PyTuple_GET_SIZE(xattrs);
    w.xattrs = PyMem_Calloc((size_t)w.n_xattrs + 1, sizeof(char *));
    w.path_cap = 4096;
    w.path = malloc(w.path_cap);
    w.dirbuf = malloc(DIRBUF);
    if (w.xattrs == NULL || w.path == NULL || w.dirbuf == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (i = 0; i < w.n_xattrs; i++) {
        PyObject *x = PyTuple_GET_ITEM(xattrs, i);
        if (!PyBytes_Check(x)) {
            PyErr_SetString(PyExc_TypeError, "the attribute names must be a tuple of bytes");
            goto done;
        }
        w.xattrs[i] = PyBytes_AS_STRING(x); /* the ctx tuple keeps them alive */
    }
    w.next_check = CHECK_EVERY;
    w.ts = PyEval_SaveThread();
    if (lseek(top, 0, SEEK_SET) < 0) /* the listing reads from the start */
        w.err = errno;
    else
        collect(&w, top, 0, 1);
    PyEval_RestoreThread(w.ts);
    if (w.interrupted)
        goto done;
    if (w.err) {
        errno = w.err;
        PyErr_SetFromErrno(PyExc_OSError);
        goto done;
    }
    if (w.status == ST_DONE && make_entries(&w, o, out) < 0)
        goto done;
    result = PyLong_FromLong(w.status);
done:
    PyMem_Free(w.xattrs);
    free(w.path);
    free(w.dirbuf);
    free(w.recs);
    free(w.arena);
    free(w.slots);
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
