/* ZRLE tiles decoded straight into the framebuffer.

   The run-length sub-encodings must be walked byte by byte (a run's length takes as
   many bytes as it needs), which costs ~100 ns a run in Python and ~300k runs a frame
   on a text-heavy 1920x1080 desktop. This walk is the whole of this module; zrle.py
   keeps the same decoder in Python for machines where this file could not be built,
   and the tests check both give identical pixels.

   Safety: every read is checked against the inflated data's length and every write
   against the framebuffer's size; nothing is allocated. Errors come back as
   ValueError with the message the Python decoder gives; zrle.py turns them into
   ProtocolError. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define TILE 64
#define ALPHA 0xFF000000u
/* Bumped whenever decode_rect's arguments or meaning change: zrle.py uses a built
   module only when it says the version it expects. */
#define API_VERSION 1

static const char ENDS[] = "ZRLE data ends inside a tile";
static const char OVERFLOWS[] = "a ZRLE run overflows its tile";
static const char PAST_PALETTE[] = "a ZRLE palette run names a colour past its palette";
static const char NO_SUCH_SUB[] = "ZRLE tile sub-encoding does not exist";

typedef struct {
    const uint8_t *data;
    Py_ssize_t size;
    Py_ssize_t pos;
} Source;

/* A tile of the framebuffer: its first word, words per framebuffer row, size. */
typedef struct {
    uint32_t *origin;
    Py_ssize_t stride;
    int w, h;
} Tile;

static inline uint32_t cpixel(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ALPHA;
}

static inline int has(const Source *s, Py_ssize_t n)
{
    return s->size - s->pos >= n;
}

static const char *tile_raw(Source *s, const Tile *t)
{
    if (!has(s, (Py_ssize_t)t->w * t->h * 3))
        return ENDS;
    const uint8_t *p = s->data + s->pos;
    for (int r = 0; r < t->h; r++) {
        uint32_t *line = t->origin + r * t->stride;
        for (int c = 0; c < t->w; c++, p += 3)
            line[c] = cpixel(p);
    }
    s->pos += (Py_ssize_t)t->w * t->h * 3;
    return NULL;
}

static const char *tile_solid(Source *s, const Tile *t)
{
    if (!has(s, 3))
        return ENDS;
    uint32_t colour = cpixel(s->data + s->pos);
    s->pos += 3;
    for (int r = 0; r < t->h; r++) {
        uint32_t *line = t->origin + r * t->stride;
        for (int c = 0; c < t->w; c++)
            line[c] = colour;
    }
    return NULL;
}

static const char *tile_packed(Source *s, const Tile *t, int colours)
{
    /* Indexes past the palette read as black, as in zrle.py. */
    uint32_t table[16];
    for (int i = 0; i < 16; i++)
        table[i] = ALPHA;
    if (!has(s, (Py_ssize_t)colours * 3))
        return ENDS;
    for (int i = 0; i < colours; i++, s->pos += 3)
        table[i] = cpixel(s->data + s->pos);
    int bits = colours == 2 ? 1 : colours <= 4 ? 2 : 4;
    int mask = (1 << bits) - 1;
    Py_ssize_t row_bytes = ((Py_ssize_t)t->w * bits + 7) / 8;
    if (!has(s, row_bytes * t->h))
        return ENDS;
    for (int r = 0; r < t->h; r++) {
        const uint8_t *packed = s->data + s->pos + r * row_bytes;
        uint32_t *line = t->origin + r * t->stride;
        for (int c = 0; c < t->w; c++) {
            int bit = c * bits;
            int index = (packed[bit >> 3] >> (8 - bits - (bit & 7))) & mask;
            line[c] = table[index];
        }
    }
    s->pos += row_bytes * t->h;
    return NULL;
}

/* The run-length tiles: ~300k runs a frame on a text-heavy 1920x1080 screen, 60 % of
   them single pixels, mixed at random. Branches on a run's kind and length are then
   mispredicted about once a run, which cost more than the writes. So the runs are laid
   end to end in a flat scratch tile (runs cross rows; a flat tile has no rows to wrap),
   each written as SLACK pixels at once whatever its length (the next run overwrites
   the excess; only runs longer than SLACK loop), and the tile is copied into the
   framebuffer row by row once complete. A broken tile is refused before any of it
   reaches the framebuffer. */
#define SLACK 32

typedef struct {
    uint32_t px[TILE * TILE + SLACK];
    Py_ssize_t pos, count;  /* pixels laid so far, and the tile's */
} Flat;

static inline const char *lay_run(Flat *f, uint32_t colour, Py_ssize_t length)
{
    if (length > f->count - f->pos)
        return OVERFLOWS;
    uint32_t *at = f->px + f->pos;
    for (int i = 0; i < SLACK; i++)
        at[i] = colour;
    for (Py_ssize_t i = SLACK; i < length; i++)
        at[i] = colour;
    f->pos += length;
    return NULL;
}

static void copy_flat(const Flat *f, const Tile *t)
{
    for (int r = 0; r < t->h; r++)
        memcpy(t->origin + r * t->stride, f->px + (Py_ssize_t)r * t->w,
               (size_t)t->w * sizeof(uint32_t));
}

/* The rest of a run's length after a first byte of 255: more bytes while they are
   255. Long runs only, so this loop's branches are rarely taken. */
static inline const char *more_length(const uint8_t **p, const uint8_t *end,
                                      Py_ssize_t *length)
{
    uint8_t b;
    do {
        if (*p >= end)
            return ENDS;
        b = *(*p)++;
        *length += b;
    } while (b == 255);
    return NULL;
}

static const char *tile_plain_rle(Source *s, const Tile *t)
{
    Flat f;
    f.pos = 0;
    f.count = (Py_ssize_t)t->w * t->h;
    const uint8_t *p = s->data + s->pos, *end = s->data + s->size;
    while (f.pos < f.count) {
        if (end - p < 4)  /* a CPIXEL and at least one length byte */
            return ENDS;
        uint32_t colour = cpixel(p);
        uint8_t first = p[3];
        p += 4;
        Py_ssize_t length = 1 + first;
        const char *err = first == 255 ? more_length(&p, end, &length) : NULL;
        if (err == NULL)
            err = lay_run(&f, colour, length);
        if (err != NULL)
            return err;
    }
    s->pos = p - s->data;
    copy_flat(&f, t);
    return NULL;
}

static const char *tile_palette_rle(Source *s, const Tile *t, int colours)
{
    uint32_t palette[128];
    if (!has(s, (Py_ssize_t)colours * 3))
        return ENDS;
    for (int i = 0; i < colours; i++, s->pos += 3)
        palette[i] = cpixel(s->data + s->pos);
    Flat f;
    f.pos = 0;
    f.count = (Py_ssize_t)t->w * t->h;
    const uint8_t *p = s->data + s->pos, *end = s->data + s->size;
    while (f.pos < f.count) {
        if (p >= end)
            return ENDS;
        unsigned head = p[0];
        unsigned is_run = head >> 7;  /* 1: a length follows */
        /* The first length byte is read whether or not there is one, and used only
           for runs: no branch on the kind of run. */
        unsigned first = 0;
        if (end - p >= 2)
            first = p[1];
        else if (is_run)
            return ENDS;
        p += 1 + is_run;
        Py_ssize_t length = 1 + (first & (0u - is_run));
        if (is_run && first == 255) {
            const char *err = more_length(&p, end, &length);
            if (err != NULL)
                return err;
        }
        unsigned index = head & 0x7F;
        if (index >= (unsigned)colours)
            return PAST_PALETTE;
        const char *err = lay_run(&f, palette[index], length);
        if (err != NULL)
            return err;
    }
    s->pos = p - s->data;
    copy_flat(&f, t);
    return NULL;
}

static const char *decode_tile(Source *s, const Tile *t)
{
    if (!has(s, 1))
        return ENDS;
    int sub = s->data[s->pos++];
    if (sub == 0)
        return tile_raw(s, t);
    if (sub == 1)
        return tile_solid(s, t);
    if (sub <= 16)
        return tile_packed(s, t, sub);
    if (sub == 128)
        return tile_plain_rle(s, t);
    if (sub >= 130)
        return tile_palette_rle(s, t, sub - 128);
    return NO_SUCH_SUB;
}

/* decode_rect(data, pixels, fb_width, fb_height, x, y, w, h) -> bytes used.
   ``pixels`` is the framebuffer's (fb_height, fb_width, 4) C-contiguous uint8 array. */
static PyObject *decode_rect(PyObject *self, PyObject *args)
{
    Py_buffer data, pixels;
    Py_ssize_t fb_w, fb_h, x, y, w, h;
    if (!PyArg_ParseTuple(args, "y*w*nnnnnn", &data, &pixels, &fb_w, &fb_h, &x, &y, &w, &h))
        return NULL;
    const char *err = NULL;
    Source s = {(const uint8_t *)data.buf, data.len, 0};
    if (fb_w <= 0 || fb_h <= 0 || pixels.len < fb_w * fb_h * 4
        || x < 0 || y < 0 || w < 0 || h < 0 || x + w > fb_w || y + h > fb_h) {
        PyBuffer_Release(&data);
        PyBuffer_Release(&pixels);
        PyErr_SetString(PyExc_IndexError, "the rectangle lies outside the framebuffer");
        return NULL;
    }
    uint32_t *words = (uint32_t *)pixels.buf;
    for (Py_ssize_t ty = y; ty < y + h && err == NULL; ty += TILE) {
        int th = (int)(y + h - ty < TILE ? y + h - ty : TILE);
        for (Py_ssize_t tx = x; tx < x + w && err == NULL; tx += TILE) {
            Tile t = {words + ty * fb_w + tx, fb_w,
                      (int)(x + w - tx < TILE ? x + w - tx : TILE), th};
            err = decode_tile(&s, &t);
        }
    }
    PyBuffer_Release(&data);
    PyBuffer_Release(&pixels);
    if (err != NULL) {
        PyErr_SetString(PyExc_ValueError, err);
        return NULL;
    }
    return PyLong_FromSsize_t(s.pos);
}

static PyMethodDef methods[] = {
    {"decode_rect", decode_rect, METH_VARARGS,
     "decode_rect(data, pixels, fb_width, fb_height, x, y, w, h) -> bytes used\n\n"
     "Decode the inflated ZRLE tiles of one rectangle into the framebuffer's pixels."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_zrle_accel",
    "ZRLE tile decoding in C (see zrle.py for the same in Python).", -1, methods,
};

PyMODINIT_FUNC PyInit__zrle_accel(void)
{
    PyObject *m = PyModule_Create(&module);
    if (m != NULL && PyModule_AddIntConstant(m, "API_VERSION", API_VERSION) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
