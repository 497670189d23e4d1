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

/* The length of a run: 1 + each byte, while the bytes are 255. */
static inline const char *run_length(Source *s, Py_ssize_t *length)
{
    Py_ssize_t n = 1;
    uint8_t b;
    do {
        if (s->pos >= s->size)
            return ENDS;
        b = s->data[s->pos++];
        n += b;
    } while (b == 255);
    *length = n;
    return NULL;
}

/* Writes runs left to right, top to bottom, keeping its place between calls. */
typedef struct {
    Tile t;
    int row, col;
    Py_ssize_t left;  /* pixels of the tile still to fill */
} RunWriter;

static inline const char *put_run(RunWriter *rw, uint32_t colour, Py_ssize_t length)
{
    if (length > rw->left)
        return OVERFLOWS;
    rw->left -= length;
    while (length > 0) {
        uint32_t *line = rw->t.origin + rw->row * rw->t.stride;
        int end = rw->col + (length < rw->t.w - rw->col ? (int)length : rw->t.w - rw->col);
        for (int c = rw->col; c < end; c++)
            line[c] = colour;
        length -= end - rw->col;
        if (end == rw->t.w) {
            rw->row++;
            rw->col = 0;
        } else {
            rw->col = end;
        }
    }
    return NULL;
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

static const char *tile_plain_rle(Source *s, const Tile *t)
{
    RunWriter rw = {*t, 0, 0, (Py_ssize_t)t->w * t->h};
    while (rw.left > 0) {
        if (!has(s, 3))
            return ENDS;
        uint32_t colour = cpixel(s->data + s->pos);
        s->pos += 3;
        Py_ssize_t length;
        const char *err = run_length(s, &length);
        if (err == NULL)
            err = put_run(&rw, colour, length);
        if (err != NULL)
            return err;
    }
    return NULL;
}

static const char *tile_palette_rle(Source *s, const Tile *t, int colours)
{
    uint32_t palette[128];
    if (!has(s, (Py_ssize_t)colours * 3))
        return ENDS;
    for (int i = 0; i < colours; i++, s->pos += 3)
        palette[i] = cpixel(s->data + s->pos);
    RunWriter rw = {*t, 0, 0, (Py_ssize_t)t->w * t->h};
    while (rw.left > 0) {
        if (!has(s, 1))
            return ENDS;
        int index = s->data[s->pos++];
        Py_ssize_t length = 1;
        if (index & 0x80) {
            const char *err = run_length(s, &length);
            if (err != NULL)
                return err;
            index &= 0x7F;
        }
        if (index >= colours)
            return PAST_PALETTE;
        const char *err = put_run(&rw, palette[index], length);
        if (err != NULL)
            return err;
    }
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
