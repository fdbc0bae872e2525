/* Optional accelerator for layerscan.scan_layer: walks tar headers in a
 * buffer and appends model.Entry tuples, exactly as the pure-Python reader
 * plus layerscan's conversion would.
 *
 * It handles the common cases only: ustar/GNU/v7 headers with octal fields,
 * pax extended headers ('x'/'X': path, linkpath, size, uid, gid, mtime; the last
 * of a chain replaces the others) and
 * GNU long names/links ('L'/'K'). Anything else (a global pax header,
 * sparse files, base-256 numbers, a checksum that needs the signed variant,
 * malformed fields, limits, end of archive) is handed back as SLOW with the
 * position of that member's first header, and the Python reader takes that
 * member, so errors and rare formats have one implementation.
 *
 * Regular files that ctx's want_digest(size) selects get digest_prefix +
 * digest(memoryview of their data) when it is at most inline_max bytes (NEED
 * asks for the buffer to hold it); larger ones go to the Python reader, which
 * streams the hash. When want_lo >= 0, want_digest selects exactly the sizes
 * want_lo..want_hi, and that test is made here without calling it.
 *
 * scan(buf, pos, out, ctx, members_left)
 *   -> (status, pos, need, members, skipped)
 *   status 0 NEED: resume at pos once the buffer holds `need` bytes from pos
 *                  (pos may lie past the buffer: skip the data in between)
 *   status 1 SLOW: let the Python reader take the member whose headers start at pos
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include "../_intcache.h"
#include <string.h>

#define BLOCK 512
#define ST_NEED 0
#define ST_SLOW 1

enum { T_ENTRY, T_FILE, T_DIR, T_SYMLINK, T_HARDLINK, T_CHAR, T_BLOCK, T_FIFO, T_WHITEOUT,
       T_OPAQUE, C_MAX_PATH, C_MAX_HEADER, C_MAX_FILE, C_WANT_DIGEST, C_DIGEST, C_INLINE_MAX,
       C_WANT_LO, C_WANT_HI, C_DIGEST_PREFIX, CTX_LEN };

typedef struct {
    const unsigned char *p;
    Py_ssize_t n;
    int set;
} span_t;

typedef struct {
    long long v;
    int set;
} num_t;

/* Octal number as `int(field[:slice], 8)`, falling back to tarscan._num on
 * the whole field when that fails. Returns 0 ok, -1 when only Python can
 * tell. *direct is 1 when int() of the slice would have succeeded. */
static int parse_octal(const unsigned char *f, int slice, long long *out, int *direct)
{
    int i = 0, start;
    long long v = 0;
    while (i < slice && f[i] == ' ')
        i++;
    start = i;
    while (i < slice && f[i] >= '0' && f[i] <= '7') {
        v = v * 8 + (f[i] - '0');
        if (v > (1LL << 60))
            return -1;
        i++;
    }
    if (i == start)
        return -1;
    *out = v;
    if (i == slice) {
        *direct = 1;
        return 0;
    }
    if (f[i] == 0) {
        *direct = 0;
        return 0;
    }
    if (f[i] == ' ') {
        while (i < slice && f[i] == ' ')
            i++;
        if (i == slice) {
            *direct = 1;
            return 0;
        }
        if (f[i] == 0) {
            *direct = 0;
            return 0;
        }
    }
    return -1;
}

static Py_ssize_t cstrlen(const unsigned char *p, Py_ssize_t max)
{
    const unsigned char *z = memchr(p, 0, (size_t)max);
    return z ? (Py_ssize_t)(z - p) : max;
}

/* A pax decimal number as tarscan's number(): digits, or digits with one
 * '.' (int(float(value))). Returns 0 ok, -1 for anything else. */
static int pax_number(const unsigned char *p, Py_ssize_t n, long long *out)
{
    Py_ssize_t i, dot = -1;
    long long v = 0;
    if (n == 0 || n > 40)
        return -1;
    for (i = 0; i < n; i++) {
        if (p[i] == '.') {
            if (dot >= 0)
                return -1;
            dot = i;
        } else if (p[i] < '0' || p[i] > '9') {
            return -1;
        }
    }
    if (dot < 0) {
        if (n > 18)
            return -1;
        for (i = 0; i < n; i++)
            v = v * 10 + (p[i] - '0');
        *out = v;
        return 0;
    }
    {
        char tmp[48];
        double d;
        memcpy(tmp, p, (size_t)n);
        tmp[n] = 0;
        d = PyOS_string_to_double(tmp, NULL, NULL);
        if (d == -1.0 && PyErr_Occurred()) {
            PyErr_Clear();
            return -1;
        }
        if (!(d < 9.0e18))
            return -1;
        *out = (long long)d; /* truncates toward zero, as int() */
        return 0;
    }
}

typedef struct {
    span_t path, link;
    num_t size, uid, gid, mtime;
} pax_t;

/* Records "%d key=value\n"; returns 0, or -1 for anything tarscan would
 * refuse or treat specially (sparse keys). */
static int parse_pax(const unsigned char *d, Py_ssize_t n, pax_t *px)
{
    Py_ssize_t pos = 0;
    while (pos < n) {
        Py_ssize_t sp, len = 0, end, eq, i;
        const unsigned char *rec, *key, *val;
        Py_ssize_t klen, vlen;
        if (d[pos] == 0)
            break;
        sp = pos;
        while (sp < n && d[sp] != ' ')
            sp++;
        if (sp >= n || sp == pos || sp - pos > 9)
            return -1;
        for (i = pos; i < sp; i++) {
            if (d[i] < '0' || d[i] > '9')
                return -1;
            len = len * 10 + (d[i] - '0');
        }
        end = pos + len;
        if (len <= 0 || end > n || d[end - 1] != '\n' || sp + 1 > end - 1)
            return -1;
        rec = d + sp + 1;
        {
            const unsigned char *e = memchr(rec, '=', (size_t)(end - 1 - (sp + 1)));
            if (e == NULL)
                return -1;
            eq = e - rec;
        }
        key = rec;
        klen = eq;
        val = rec + eq + 1;
        vlen = (end - 1) - (sp + 1) - eq - 1;
#define KEY(s) (klen == (Py_ssize_t)(sizeof(s) - 1) && memcmp(key, s, sizeof(s) - 1) == 0)
        if (klen >= 11 && memcmp(key, "GNU.sparse.", 11) == 0)
            return -1;
        if (KEY("path")) {
            px->path.p = val;
            px->path.n = vlen;
            px->path.set = 1;
        } else if (KEY("linkpath")) {
            px->link.p = val;
            px->link.n = vlen;
            px->link.set = 1;
        } else if (KEY("size")) {
            if (pax_number(val, vlen, &px->size.v) < 0)
                return -1;
            px->size.set = 1;
        } else if (KEY("uid")) {
            if (pax_number(val, vlen, &px->uid.v) < 0)
                return -1;
            px->uid.set = 1;
        } else if (KEY("gid")) {
            if (pax_number(val, vlen, &px->gid.v) < 0)
                return -1;
            px->gid.set = 1;
        } else if (KEY("mtime")) {
            if (pax_number(val, vlen, &px->mtime.v) < 0)
                return -1;
            px->mtime.set = 1;
        }
#undef KEY
        pos = end;
    }
    return 0;
}

/* layerscan.normalize on bytes: "./a//b/" -> "a/b". Writes into dst (at
 * least n bytes); returns the length. */
static Py_ssize_t normalize(const unsigned char *s, Py_ssize_t n, unsigned char *dst)
{
    Py_ssize_t i, o = 0;
    int messy = 0;
    if (n >= 2 && s[0] == '.' && s[1] == '/') {
        s += 2;
        n -= 2;
    }
    while (n > 0 && s[0] == '/') {
        s++;
        n--;
    }
    while (n > 0 && s[n - 1] == '/')
        n--;
    if (n == 1 && s[0] == '.')
        messy = 1;
    else if (n >= 2 && s[0] == '.' && s[1] == '/')
        messy = 1;
    else if (n >= 2 && s[n - 2] == '/' && s[n - 1] == '.')
        messy = 1;
    else {
        for (i = 0; i + 1 < n; i++) {
            if (s[i] == '/' && (s[i + 1] == '/' ||
                                (s[i + 1] == '.' && i + 2 < n && s[i + 2] == '/'))) {
                messy = 1;
                break;
            }
        }
    }
    if (!messy) {
        memcpy(dst, s, (size_t)n);
        return n;
    }
    i = 0;
    while (i < n) {
        Py_ssize_t j = i;
        while (j < n && s[j] != '/')
            j++;
        if (j > i && !(j - i == 1 && s[i] == '.')) {
            if (o)
                dst[o++] = '/';
            memcpy(dst + o, s + i, (size_t)(j - i));
            o += j - i;
        }
        i = j + 1;
    }
    return o;
}

static PyObject *decode(const unsigned char *p, Py_ssize_t n)
{
    return PyUnicode_DecodeUTF8((const char *)p, n, "surrogateescape");
}

static PyObject *make_entry(PyTypeObject *entry_t, PyObject *path, PyObject *typ,
                            PyObject *size, PyObject *mode, PyObject *uid, PyObject *gid,
                            PyObject *mtime, PyObject *link, PyObject *digest)
{
    /* As tuple_subtype_new does: allocate the subclass, fill the items.
     * Takes a reference to every argument (steals none). */
    PyObject *e = entry_t->tp_alloc(entry_t, 9);
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
    Py_INCREF(digest);
    PyTuple_SET_ITEM(e, 8, digest);
    return e;
}

static int is_zero_block(const unsigned char *h)
{
    int i;
    for (i = 0; i < BLOCK; i++)
        if (h[i])
            return 0;
    return 1;
}

static PyObject *scan(PyObject *self, PyObject *args)
{
    (void)self;
    Py_buffer view;
    Py_ssize_t pos, members_left, members = 0, skipped = 0, need = 0, chain = 0;
    PyObject *out, *ctx, *o[CTX_LEN];
    PyTypeObject *entry_t;
    long long max_path, max_header, max_file, inline_max, want_lo, want_hi;
    const unsigned char *buf;
    Py_ssize_t n;
    int status = ST_NEED, i;
    unsigned char small[4096];
    unsigned char *work = small, *work2 = NULL;
    Py_ssize_t work_cap = sizeof(small) / 2;
    icache_t c_mode = {0, NULL}, c_uid = {0, NULL}, c_gid = {0, NULL}, c_mtime = {0, NULL},
             c_size = {0, NULL}, c_zero = {0, NULL}, c_644 = {0, NULL};
    PyObject *empty = NULL, *zero = NULL, *m644 = NULL, *result = NULL;

    if (!PyArg_ParseTuple(args, "y*nO!O!n", &view, &pos, &PyList_Type, &out, &PyTuple_Type,
                          &ctx, &members_left))
        return NULL;
    if (PyTuple_GET_SIZE(ctx) != CTX_LEN || pos < 0) {
        PyErr_SetString(PyExc_ValueError, "bad scan context");
        goto done;
    }
    for (i = 0; i < CTX_LEN; i++)
        o[i] = PyTuple_GET_ITEM(ctx, i);
    if (!PyType_Check(o[T_ENTRY]) || !PyType_IsSubtype((PyTypeObject *)o[T_ENTRY],
                                                       &PyTuple_Type)) {
        PyErr_SetString(PyExc_TypeError, "Entry must be a tuple subclass");
        goto done;
    }
    entry_t = (PyTypeObject *)o[T_ENTRY];
    max_path = PyLong_AsLongLong(o[C_MAX_PATH]);
    max_header = PyLong_AsLongLong(o[C_MAX_HEADER]);
    max_file = PyLong_AsLongLong(o[C_MAX_FILE]);
    inline_max = PyLong_AsLongLong(o[C_INLINE_MAX]);
    want_lo = PyLong_AsLongLong(o[C_WANT_LO]);
    want_hi = PyLong_AsLongLong(o[C_WANT_HI]);
    if (!PyErr_Occurred() && !PyUnicode_Check(o[C_DIGEST_PREFIX]))
        PyErr_SetString(PyExc_TypeError, "digest prefix must be a str");
    if (PyErr_Occurred())
        goto done;
    buf = view.buf;
    n = view.len;
    empty = PyUnicode_New(0, 0);
    zero = cached_int(&c_zero, 0);
    m644 = cached_int(&c_644, 0644);
    if (empty == NULL || zero == NULL || m644 == NULL)
        goto done;

    for (;;) {
        pax_t px;
        span_t lname = {NULL, 0, 0}, llink = {NULL, 0, 0};
        const unsigned char *h;
        long long size, mode, uid, gid, mtime, chk;
        int typ, d_mode, d_uid, d_gid, d_mtime, d_any;
        memset(&px, 0, sizeof(px));
        chain = pos;

        for (;;) { /* extension headers, then the member's own header */
            long long sum, padded;
            int direct;
            if (pos + BLOCK > n) {
                status = ST_NEED;
                need = pos + BLOCK - chain;
                pos = chain;
                goto finish;
            }
            h = buf + pos;
            if (is_zero_block(h))
                goto slow;
            if (parse_octal(h + 148, 6, &chk, &direct) < 0)
                goto slow;
            sum = 8 * ' ';
            for (i = 0; i < 148; i++)
                sum += h[i];
            for (i = 156; i < BLOCK; i++)
                sum += h[i];
            if (sum != chk)
                goto slow;
            typ = h[156];
            if (parse_octal(h + 124, 11, &size, &direct) < 0)
                goto slow;
            if (size > max_file)
                goto slow;
            padded = (size + BLOCK - 1) & ~(long long)(BLOCK - 1);
            if (typ == 'x' || typ == 'X' || typ == 'L' || typ == 'K') {
                if (size > max_header)
                    goto slow;
                if (pos + BLOCK + padded > n) {
                    status = ST_NEED;
                    need = pos + BLOCK + padded - chain;
                    pos = chain;
                    goto finish;
                }
                if (typ == 'x' || typ == 'X') {
                    /* only the last local pax header counts, as in Go's reader */
                    memset(&px, 0, sizeof(px));
                    if (parse_pax(h + BLOCK, (Py_ssize_t)size, &px) < 0)
                        goto slow;
                } else {
                    span_t *s = typ == 'L' ? &lname : &llink;
                    s->p = h + BLOCK;
                    s->n = cstrlen(h + BLOCK, (Py_ssize_t)size);
                    s->set = 1;
                }
                pos += BLOCK + (Py_ssize_t)padded;
                continue;
            }
            if (typ == 'g' || typ == 'S')
                goto slow;
            break;
        }
        /* h is the member's own header */
        if (members >= members_left)
            goto slow;
        if (parse_octal(h + 100, 7, &mode, &d_mode) < 0 ||
            parse_octal(h + 108, 7, &uid, &d_uid) < 0 ||
            parse_octal(h + 116, 7, &gid, &d_gid) < 0 ||
            parse_octal(h + 136, 11, &mtime, &d_mtime) < 0)
            goto slow;
        d_any = d_mode && d_uid && d_gid && d_mtime;
        if (!d_any) {
            /* tarscan re-reads all four from their whole fields then */
            if ((d_mode && h[107] && h[107] != ' ') || (d_uid && h[115] && h[115] != ' ') ||
                (d_gid && h[123] && h[123] != ' ') || (d_mtime && h[147] && h[147] != ' '))
                goto slow;
        }
        {
            const unsigned char *np, *lp;
            Py_ssize_t nn, ln, plen, k, base;
            unsigned char *path;
            PyObject *ent = NULL, *pstr, *typo, *lstr, *digest;
            Py_ssize_t next;
            int t = typ;

            plen = 0;
            if (lname.set) {
                np = lname.p;
                nn = lname.n;
            } else {
                np = h;
                nn = cstrlen(h, 100);
                if (memcmp(h + 257, "ustar\0", 6) == 0 && h[345])
                    plen = cstrlen(h + 345, 155) + 1;
            }
            if (nn + plen > max_path)
                goto slow; /* tarscan refuses it */
            if (px.path.set) {
                if (px.path.n > max_path)
                    goto slow;
                np = px.path.p;
                nn = px.path.n;
                plen = 0;
            }
            lp = llink.set ? llink.p : h + 157;
            ln = llink.set ? llink.n : cstrlen(h + 157, 100);
            if (px.link.set) {
                lp = px.link.p;
                ln = px.link.n;
            }
            if (px.size.set) {
                size = px.size.v;
                if (size > max_file)
                    goto slow;
            }
            if (px.uid.set)
                uid = px.uid.v;
            if (px.gid.set)
                gid = px.gid.v;
            if (px.mtime.set)
                mtime = px.mtime.v;

            /* assemble the raw name (ustar prefix) and normalise it */
            if (nn + plen + ln + 2 > work_cap) {
                PyMem_Free(work2);
                work_cap = (nn + plen + ln + 2) * 2;
                work2 = PyMem_Malloc((size_t)work_cap * 2);
                if (work2 == NULL) {
                    PyErr_NoMemory();
                    goto done;
                }
                work = work2;
            }
            {
                unsigned char *raw = work + work_cap;
                if (plen) {
                    memcpy(raw, h + 345, (size_t)(plen - 1));
                    raw[plen - 1] = '/';
                }
                memcpy(raw + plen, np, (size_t)nn);
                plen = normalize(raw, plen + nn, work);
            }
            path = work;
            next = pos + BLOCK;
            if (!(t >= '1' && t <= '6'))
                next += (Py_ssize_t)((size + BLOCK - 1) & ~(long long)(BLOCK - 1));
            members++;

            base = plen;
            while (base > 0 && path[base - 1] != '/')
                base--;
            if (plen - base >= 4 && memcmp(path + base, ".wh.", 4) == 0) {
                Py_ssize_t parent = base ? base - 1 : 0;
                Py_ssize_t blen = plen - base;
                if (blen == 12 && memcmp(path + base, ".wh..wh..opq", 12) == 0) {
                    pstr = decode(path, parent);
                    if (pstr == NULL)
                        goto done;
                    ent = make_entry(entry_t, pstr, o[T_OPAQUE], zero, m644, zero, zero, zero,
                                     empty, Py_None);
                    Py_DECREF(pstr);
                } else if (blen == 4 || (blen >= 8 && memcmp(path + base, ".wh..wh.", 8) == 0)) {
                    skipped++;
                } else {
                    memmove(path + base, path + base + 4, (size_t)(blen - 4));
                    pstr = decode(path, plen - 4);
                    if (pstr == NULL)
                        goto done;
                    ent = make_entry(entry_t, pstr, o[T_WHITEOUT], zero, m644, zero, zero, zero,
                                     empty, Py_None);
                    Py_DECREF(pstr);
                }
                if (ent == NULL && PyErr_Occurred())
                    goto done;
                if (ent != NULL) {
                    k = PyList_Append(out, ent);
                    Py_DECREF(ent);
                    if (k < 0)
                        goto done;
                }
                pos = next;
                continue;
            }
            switch (t) {
            case '0': case 0: case '7':
                typo = o[T_FILE];
                break;
            case '1':
                typo = o[T_HARDLINK];
                break;
            case '2':
                typo = o[T_SYMLINK];
                break;
            case '3':
                typo = o[T_CHAR];
                break;
            case '4':
                typo = o[T_BLOCK];
                break;
            case '5': case 'D':
                typo = o[T_DIR];
                break;
            case '6':
                typo = o[T_FIFO];
                break;
            case 'V': case 'M': case 'N':
                typo = NULL;
                break;
            default:
                typo = o[T_FILE]; /* tarfile reads unknown types as regular files */
            }
            if (typo == NULL) {
                skipped++;
                pos = next;
                continue;
            }
            pstr = decode(path, plen);
            if (pstr == NULL)
                goto done;
            if (typo == o[T_FILE]) {
                lstr = empty;
                Py_INCREF(lstr);
            } else if (typo == o[T_HARDLINK]) {
                unsigned char *lw = work + work_cap;
                memcpy(lw, lp, (size_t)ln);
                lstr = decode(work, normalize(lw, ln, work));
            } else {
                lstr = ln ? decode(lp, ln) : (Py_INCREF(empty), empty);
            }
            if (lstr == NULL) {
                Py_DECREF(pstr);
                goto done;
            }
            digest = Py_None;
            Py_INCREF(digest);
            if (typo == o[T_FILE] && o[C_WANT_DIGEST] != Py_None) {
                /* want_digest(size): hash the data when the buffer holds it (or
                 * can be made to), else the Python reader streams it */
                int want;
                if (want_lo >= 0) {
                    want = size >= want_lo && size <= want_hi;
                } else {
                    PyObject *so = cached_int(&c_size, size), *r;
                    if (so == NULL) {
                        Py_DECREF(pstr);
                        Py_DECREF(lstr);
                        goto done;
                    }
                    r = PyObject_CallOneArg(o[C_WANT_DIGEST], so);
                    Py_DECREF(so);
                    want = r == NULL ? -1 : PyObject_IsTrue(r);
                    Py_XDECREF(r);
                }
                if (want != 0) {
                    PyObject *mv;
                    if (want < 0 || size > inline_max || pos + BLOCK + size > n) {
                        Py_DECREF(pstr);
                        Py_DECREF(lstr);
                        if (want < 0)
                            goto done;
                        members--;
                        if (size > inline_max)
                            goto slow;
                        status = ST_NEED;
                        need = pos + BLOCK + (Py_ssize_t)size - chain;
                        pos = chain;
                        goto finish;
                    }
                    mv = PyMemoryView_FromMemory((char *)h + BLOCK, (Py_ssize_t)size, PyBUF_READ);
                    Py_DECREF(digest);
                    digest = mv == NULL ? NULL : PyObject_CallOneArg(o[C_DIGEST], mv);
                    Py_XDECREF(mv);
                    if (digest != NULL) {
                        PyObject *hex = digest;
                        digest = PyUnicode_Check(hex) ? PyUnicode_Concat(o[C_DIGEST_PREFIX], hex)
                                                      : NULL;
                        if (digest == NULL && !PyErr_Occurred())
                            PyErr_SetString(PyExc_TypeError, "digest must return a str");
                        Py_DECREF(hex);
                    }
                    if (digest == NULL) {
                        Py_DECREF(pstr);
                        Py_DECREF(lstr);
                        goto done;
                    }
                }
            }
            {
                PyObject *so = typo == o[T_FILE] ? cached_int(&c_size, size) : (Py_INCREF(zero), zero);
                PyObject *mo = cached_int(&c_mode, mode & 07777);
                PyObject *uo = cached_int(&c_uid, uid);
                PyObject *go = cached_int(&c_gid, gid);
                PyObject *to = cached_int(&c_mtime, mtime);
                if (so && mo && uo && go && to)
                    ent = make_entry(entry_t, pstr, typo, so, mo, uo, go, to, lstr, digest);
                Py_XDECREF(so);
                Py_XDECREF(mo);
                Py_XDECREF(uo);
                Py_XDECREF(go);
                Py_XDECREF(to);
            }
            Py_DECREF(pstr);
            Py_DECREF(lstr);
            Py_DECREF(digest);
            if (ent == NULL)
                goto done;
            k = PyList_Append(out, ent);
            Py_DECREF(ent);
            if (k < 0)
                goto done;
            pos = next;
        }
    }
slow:
    status = ST_SLOW;
    pos = chain; /* the member's first header: Python takes it from there */
finish:
    if (status == ST_SLOW)
        need = 0;
    result = Py_BuildValue("(innnn)", status, pos, need, members, skipped);
done:
    PyBuffer_Release(&view);
    PyMem_Free(work2);
    Py_XDECREF(c_mode.o);
    Py_XDECREF(c_uid.o);
    Py_XDECREF(c_gid.o);
    Py_XDECREF(c_mtime.o);
    Py_XDECREF(c_size.o);
    Py_XDECREF(c_zero.o);
    Py_XDECREF(c_644.o);
    Py_XDECREF(zero);
    Py_XDECREF(m644);
    Py_XDECREF(empty);
    return result;
}

static PyMethodDef methods[] = {
    {"scan", scan, METH_VARARGS, "Walk tar headers in a buffer into Entry tuples."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_tarwalk", "Optional C accelerator for layerscan.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__tarwalk(void)
{
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    /* The length of scan's ctx: a layerscan.py that passes another one
     * keeps to the Python reader rather than call a stale build. */
    if (PyModule_AddIntConstant(m, "ctx_len", CTX_LEN) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
