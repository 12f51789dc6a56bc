/*
 * Ascon authenticated encryption for EMsync device telemetry.
 *
 * Three members, written from their specifications:
 *   - Ascon-AEAD128, NIST SP 800-232 (2025): little-endian lanes, rate 128 bits,
 *     p^12 / p^8, IV 0x00001000808C0001, padding byte 0x01, domain bit in the
 *     most significant bit of x4.
 *   - Ascon-128 v1.2 (CAESAR / NIST LWC final round): big-endian lanes, rate 64,
 *     p^12 / p^6, IV 0x80400C0600000000, padding byte 0x80, domain bit 1.
 *   - Ascon-128a v1.2: as Ascon-128 but rate 128, p^8, IV 0x80800C0800000000.
 *
 * Only the one-shot AEAD is exposed; hashing and XOF members are not needed.
 * Every member is one generic routine specialised by constant propagation
 * (the variant argument is a compile-time constant at each call site).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__GNUC__) || defined(__clang__)
#define ASCON_INLINE static inline __attribute__((always_inline))
#else
#define ASCON_INLINE static inline
#endif

#define KEY_BYTES 16
#define NONCE_BYTES 16
#define TAG_BYTES 16

/*
 * Below this size the cost of releasing and re-taking the GIL (a few hundred
 * nanoseconds under contention) is comparable to the whole computation, so
 * small telemetry messages keep it; bulk data lets other threads run.
 */
#define RELEASE_GIL_AT 8192

typedef struct {
    int little_endian; /* SP 800-232 loads lanes little-endian, v1.2 big-endian */
    int rate;          /* bytes absorbed per block: 8 or 16 */
    int rounds_b;      /* rounds of the intermediate permutation: 6 or 8 */
    uint64_t iv;
} variant_t;

static const variant_t ASCON_AEAD128 = {1, 16, 8, UINT64_C(0x00001000808C0001)};
static const variant_t ASCON_128_V12 = {0, 8, 6, UINT64_C(0x80400C0600000000)};
static const variant_t ASCON_128A_V12 = {0, 16, 8, UINT64_C(0x80800C0800000000)};

typedef struct {
    uint64_t x0, x1, x2, x3, x4;
} state_t;

ASCON_INLINE uint64_t ror64(uint64_t x, int n) { return (x >> n) | (x << (64 - n)); }

ASCON_INLINE void ascon_round(state_t *s, uint64_t c) {
    uint64_t x0 = s->x0, x1 = s->x1, x2 = s->x2, x3 = s->x3, x4 = s->x4;
    uint64_t t0, t1, t2, t3, t4;
    x2 ^= c;
    /* 5-bit S-box, bitsliced (Ascon specification, figure "bitsliced S-box") */
    x0 ^= x4;
    x4 ^= x3;
    x2 ^= x1;
    t0 = ~x0 & x1;
    t1 = ~x1 & x2;
    t2 = ~x2 & x3;
    t3 = ~x3 & x4;
    t4 = ~x4 & x0;
    x0 ^= t1;
    x1 ^= t2;
    x2 ^= t3;
    x3 ^= t4;
    x4 ^= t0;
    x1 ^= x0;
    x0 ^= x4;
    x3 ^= x2;
    x2 = ~x2;
    /* linear diffusion layer */
    s->x0 = x0 ^ ror64(x0, 19) ^ ror64(x0, 28);
    s->x1 = x1 ^ ror64(x1, 61) ^ ror64(x1, 39);
    s->x2 = x2 ^ ror64(x2, 1) ^ ror64(x2, 6);
    s->x3 = x3 ^ ror64(x3, 10) ^ ror64(x3, 17);
    s->x4 = x4 ^ ror64(x4, 7) ^ ror64(x4, 41);
}

/* p^n uses the last n of the twelve round constants 0xf0, 0xe1, ..., 0x4b. */
ASCON_INLINE void ascon_permute(state_t *s, int rounds) {
    for (int i = 12 - rounds; i < 12; i++) {
        ascon_round(s, (uint64_t)(0xf0 - i * 0x0f));
    }
}

static void p12(state_t *s) { ascon_permute(s, 12); }
static void p8(state_t *s) { ascon_permute(s, 8); }
static void p6(state_t *s) { ascon_permute(s, 6); }

ASCON_INLINE void permute_b(const variant_t v, state_t *s) {
    if (v.rounds_b == 8) {
        p8(s);
    } else {
        p6(s);
    }
}

/* Byte-wise loads: compilers turn the full-width ones into a single (byte-swapped) move. */
ASCON_INLINE uint64_t load64(const variant_t v, const uint8_t *p) {
    uint64_t x = 0;
    for (int i = 0; i < 8; i++) {
        x |= (uint64_t)p[i] << (v.little_endian ? 8 * i : 56 - 8 * i);
    }
    return x;
}

ASCON_INLINE void store64(const variant_t v, uint8_t *p, uint64_t x) {
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t)(x >> (v.little_endian ? 8 * i : 56 - 8 * i));
    }
}

ASCON_INLINE uint64_t load_bytes(const variant_t v, const uint8_t *p, size_t n) {
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        x |= (uint64_t)p[i] << (v.little_endian ? 8 * i : 56 - 8 * i);
    }
    return x;
}

ASCON_INLINE void store_bytes(const variant_t v, uint8_t *p, uint64_t x, size_t n) {
    for (size_t i = 0; i < n; i++) {
        p[i] = (uint8_t)(x >> (v.little_endian ? 8 * i : 56 - 8 * i));
    }
}

/* The padding bit right after the n-th byte of a lane (n < 8). */
ASCON_INLINE uint64_t pad(const variant_t v, size_t n) {
    return v.little_endian ? UINT64_C(0x01) << (8 * n) : UINT64_C(0x80) << (56 - 8 * n);
}

/* The lane with its first n bytes (in loading order) cleared (n < 8). */
ASCON_INLINE uint64_t clear_bytes(const variant_t v, uint64_t x, size_t n) {
    return v.little_endian ? x & (~UINT64_C(0) << (8 * n)) : x & (~UINT64_C(0) >> (8 * n));
}

/* Domain separation between associated data and message. */
ASCON_INLINE uint64_t domain_bit(const variant_t v) {
    return v.little_endian ? UINT64_C(1) << 63 : UINT64_C(1);
}

ASCON_INLINE void initialize(const variant_t v, state_t *s, uint64_t k0, uint64_t k1,
                             const uint8_t *nonce) {
    s->x0 = v.iv;
    s->x1 = k0;
    s->x2 = k1;
    s->x3 = load64(v, nonce);
    s->x4 = load64(v, nonce + 8);
    p12(s);
    s->x3 ^= k0;
    s->x4 ^= k1;
}

ASCON_INLINE void absorb_ad(const variant_t v, state_t *s, const uint8_t *ad, size_t adlen) {
    if (adlen > 0) {
        while (adlen >= (size_t)v.rate) {
            s->x0 ^= load64(v, ad);
            if (v.rate == 16) {
                s->x1 ^= load64(v, ad + 8);
            }
            permute_b(v, s);
            ad += v.rate;
            adlen -= (size_t)v.rate;
        }
        if (adlen >= 8) {
            s->x0 ^= load64(v, ad);
            s->x1 ^= load_bytes(v, ad + 8, adlen - 8) ^ pad(v, adlen - 8);
        } else {
            s->x0 ^= load_bytes(v, ad, adlen) ^ pad(v, adlen);
        }
        permute_b(v, s);
    }
    s->x4 ^= domain_bit(v);
}

ASCON_INLINE void finalize(const variant_t v, state_t *s, uint64_t k0, uint64_t k1,
                           uint8_t tag[TAG_BYTES]) {
    if (v.rate == 8) {
        s->x1 ^= k0;
        s->x2 ^= k1;
    } else {
        s->x2 ^= k0;
        s->x3 ^= k1;
    }
    p12(s);
    store64(v, tag, s->x3 ^ k0);
    store64(v, tag + 8, s->x4 ^ k1);
}

/* out receives mlen bytes of ciphertext followed by the tag. */
ASCON_INLINE void ascon_encrypt(const variant_t v, uint8_t *out, const uint8_t *m, size_t mlen,
                                const uint8_t *ad, size_t adlen, const uint8_t *nonce,
                                const uint8_t *key) {
    state_t s;
    const uint64_t k0 = load64(v, key);
    const uint64_t k1 = load64(v, key + 8);
    initialize(v, &s, k0, k1, nonce);
    absorb_ad(v, &s, ad, adlen);
    while (mlen >= (size_t)v.rate) {
        s.x0 ^= load64(v, m);
        store64(v, out, s.x0);
        if (v.rate == 16) {
            s.x1 ^= load64(v, m + 8);
            store64(v, out + 8, s.x1);
        }
        permute_b(v, &s);
        m += v.rate;
        out += v.rate;
        mlen -= (size_t)v.rate;
    }
    if (mlen >= 8) {
        s.x0 ^= load64(v, m);
        store64(v, out, s.x0);
        s.x1 ^= load_bytes(v, m + 8, mlen - 8);
        store_bytes(v, out + 8, s.x1, mlen - 8);
        s.x1 ^= pad(v, mlen - 8);
    } else {
        s.x0 ^= load_bytes(v, m, mlen);
        store_bytes(v, out, s.x0, mlen);
        s.x0 ^= pad(v, mlen);
    }
    finalize(v, &s, k0, k1, out + mlen);
}

/*
 * Writes clen bytes of plaintext to out; returns 0 if the tag matches. On a
 * mismatch the plaintext is wiped so no unauthenticated byte ever escapes.
 */
ASCON_INLINE int ascon_decrypt(const variant_t v, uint8_t *out, const uint8_t *c, size_t clen,
                               const uint8_t *tag, const uint8_t *ad, size_t adlen,
                               const uint8_t *nonce, const uint8_t *key) {
    state_t s;
    uint8_t expected[TAG_BYTES];
    uint8_t *const start = out;
    const size_t total = clen;
    const uint64_t k0 = load64(v, key);
    const uint64_t k1 = load64(v, key + 8);
    initialize(v, &s, k0, k1, nonce);
    absorb_ad(v, &s, ad, adlen);
    while (clen >= (size_t)v.rate) {
        uint64_t c0 = load64(v, c);
        store64(v, out, s.x0 ^ c0);
        s.x0 = c0;
        if (v.rate == 16) {
            uint64_t c1 = load64(v, c + 8);
            store64(v, out + 8, s.x1 ^ c1);
            s.x1 = c1;
        }
        permute_b(v, &s);
        c += v.rate;
        out += v.rate;
        clen -= (size_t)v.rate;
    }
    if (clen >= 8) {
        uint64_t c0 = load64(v, c);
        store64(v, out, s.x0 ^ c0);
        s.x0 = c0;
        uint64_t cn = load_bytes(v, c + 8, clen - 8);
        store_bytes(v, out + 8, s.x1 ^ cn, clen - 8);
        s.x1 = clear_bytes(v, s.x1, clen - 8) | cn;
        s.x1 ^= pad(v, clen - 8);
    } else {
        uint64_t cn = load_bytes(v, c, clen);
        store_bytes(v, out, s.x0 ^ cn, clen);
        s.x0 = clear_bytes(v, s.x0, clen) | cn;
        s.x0 ^= pad(v, clen);
    }
    finalize(v, &s, k0, k1, expected);
    /* constant time in the tag contents */
    uint8_t diff = 0;
    for (int i = 0; i < TAG_BYTES; i++) {
        diff |= (uint8_t)(expected[i] ^ tag[i]);
    }
    if (diff != 0) {
        memset(start, 0, total);
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- Python glue */

static PyObject *AuthenticationError;

typedef struct {
    Py_buffer key, nonce, ad, data;
    int held;
} args_t;

static void release_args(args_t *a) {
    if (a->held > 3) PyBuffer_Release(&a->data);
    if (a->held > 2) PyBuffer_Release(&a->ad);
    if (a->held > 1) PyBuffer_Release(&a->nonce);
    if (a->held > 0) PyBuffer_Release(&a->key);
    a->held = 0;
}

/* Borrows (key, nonce, ad, data) as buffers and checks the fixed lengths. */
static int take_args(args_t *a, const char *name, PyObject *const *args, Py_ssize_t nargs) {
    a->held = 0;
    if (nargs != 4) {
        PyErr_Format(PyExc_TypeError, "%s() takes exactly 4 arguments (key, nonce, ad, data), %zd given",
                     name, nargs);
        return -1;
    }
    Py_buffer *slots[4] = {&a->key, &a->nonce, &a->ad, &a->data};
    for (int i = 0; i < 4; i++) {
        if (PyObject_GetBuffer(args[i], slots[i], PyBUF_SIMPLE) < 0) {
            release_args(a);
            return -1;
        }
        a->held = i + 1;
    }
    if (a->key.len != KEY_BYTES) {
        PyErr_Format(PyExc_ValueError, "key must be %d bytes, got %zd", KEY_BYTES, a->key.len);
        release_args(a);
        return -1;
    }
    if (a->nonce.len != NONCE_BYTES) {
        PyErr_Format(PyExc_ValueError, "nonce must be %d bytes, got %zd", NONCE_BYTES, a->nonce.len);
        release_args(a);
        return -1;
    }
    return 0;
}

#define DEFINE_MEMBER(NAME, VARIANT)                                                              \
    static PyObject *NAME##_encrypt(PyObject *module, PyObject *const *args, Py_ssize_t nargs) { \
        (void)module;                                                                             \
        args_t a;                                                                                 \
        if (take_args(&a, #NAME "_encrypt", args, nargs) < 0) return NULL;                        \
        if (a.data.len > PY_SSIZE_T_MAX - TAG_BYTES) {                                            \
            release_args(&a);                                                                     \
            return PyErr_NoMemory();                                                              \
        }                                                                                         \
        PyObject *result = PyBytes_FromStringAndSize(NULL, a.data.len + TAG_BYTES);              \
        if (result == NULL) {                                                                     \
            release_args(&a);                                                                     \
            return NULL;                                                                          \
        }                                                                                         \
        uint8_t *out = (uint8_t *)PyBytes_AS_STRING(result);                                      \
        if (a.data.len >= RELEASE_GIL_AT) {                                                       \
            Py_BEGIN_ALLOW_THREADS ascon_encrypt(VARIANT, out, a.data.buf, (size_t)a.data.len,    \
                                                 a.ad.buf, (size_t)a.ad.len, a.nonce.buf,         \
                                                 a.key.buf);                                      \
            Py_END_ALLOW_THREADS                                                                  \
        } else {                                                                                  \
            ascon_encrypt(VARIANT, out, a.data.buf, (size_t)a.data.len, a.ad.buf,                 \
                          (size_t)a.ad.len, a.nonce.buf, a.key.buf);                              \
        }                                                                                         \
        release_args(&a);                                                                         \
        return result;                                                                            \
    }                                                                                             \
    static PyObject *NAME##_decrypt(PyObject *module, PyObject *const *args, Py_ssize_t nargs) { \
        (void)module;                                                                             \
        args_t a;                                                                                 \
        if (take_args(&a, #NAME "_decrypt", args, nargs) < 0) return NULL;                        \
        if (a.data.len < TAG_BYTES) {                                                             \
            release_args(&a);                                                                     \
            PyErr_SetString(AuthenticationError, "ciphertext shorter than the tag");             \
            return NULL;                                                                          \
        }                                                                                         \
        const size_t clen = (size_t)a.data.len - TAG_BYTES;                                       \
        const uint8_t *c = (const uint8_t *)a.data.buf;                                           \
        PyObject *result = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)clen);                     \
        if (result == NULL) {                                                                     \
            release_args(&a);                                                                     \
            return NULL;                                                                          \
        }                                                                                         \
        uint8_t *out = (uint8_t *)PyBytes_AS_STRING(result);                                      \
        int rc;                                                                                   \
        if (clen >= RELEASE_GIL_AT) {                                                             \
            Py_BEGIN_ALLOW_THREADS rc = ascon_decrypt(VARIANT, out, c, clen, c + clen, a.ad.buf,  \
                                                      (size_t)a.ad.len, a.nonce.buf, a.key.buf);  \
            Py_END_ALLOW_THREADS                                                                  \
        } else {                                                                                  \
            rc = ascon_decrypt(VARIANT, out, c, clen, c + clen, a.ad.buf, (size_t)a.ad.len,       \
                               a.nonce.buf, a.key.buf);                                           \
        }                                                                                         \
        release_args(&a);                                                                         \
        if (rc != 0) {                                                                            \
            Py_DECREF(result);                                                                    \
            PyErr_SetString(AuthenticationError, "authentication tag does not match");           \
            return NULL;                                                                          \
        }                                                                                         \
        return result;                                                                            \
    }

DEFINE_MEMBER(aead128, ASCON_AEAD128)
DEFINE_MEMBER(ascon128, ASCON_128_V12)
DEFINE_MEMBER(ascon128a, ASCON_128A_V12)

#define METHOD(NAME, DOC) {#NAME, (PyCFunction)(void (*)(void))NAME, METH_FASTCALL, DOC}

static PyMethodDef methods[] = {
    METHOD(aead128_encrypt, "Ascon-AEAD128 (SP 800-232): ciphertext || tag."),
    METHOD(aead128_decrypt, "Ascon-AEAD128 (SP 800-232): plaintext, or AuthenticationError."),
    METHOD(ascon128_encrypt, "Ascon-128 v1.2: ciphertext || tag."),
    METHOD(ascon128_decrypt, "Ascon-128 v1.2: plaintext, or AuthenticationError."),
    METHOD(ascon128a_encrypt, "Ascon-128a v1.2: ciphertext || tag."),
    METHOD(ascon128a_decrypt, "Ascon-128a v1.2: plaintext, or AuthenticationError."),
    {NULL, NULL, 0, NULL},
};

static int exec_module(PyObject *module) {
    /* one class per process, so every import sees the same exception type */
    if (AuthenticationError == NULL) {
        AuthenticationError = PyErr_NewExceptionWithDoc(
            "emsync.telemetry._ascon.AuthenticationError",
            "The tag does not match: wrong key, nonce, associated data or tampered ciphertext.",
            PyExc_ValueError, NULL);
        if (AuthenticationError == NULL) return -1;
    }
    if (PyModule_AddObjectRef(module, "AuthenticationError", AuthenticationError) < 0) return -1;
    if (PyModule_AddIntConstant(module, "KEY_BYTES", KEY_BYTES) < 0) return -1;
    if (PyModule_AddIntConstant(module, "NONCE_BYTES", NONCE_BYTES) < 0) return -1;
    if (PyModule_AddIntConstant(module, "TAG_BYTES", TAG_BYTES) < 0) return -1;
    return 0;
}

static PyModuleDef_Slot slots[] = {
    {Py_mod_exec, (void *)exec_module},
    {0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "emsync.telemetry._ascon",
    .m_doc = "Ascon-AEAD128 (NIST SP 800-232), Ascon-128 and Ascon-128a v1.2, one-shot AEAD.",
    .m_size = 0,
    .m_methods = methods,
    .m_slots = slots,
};

PyMODINIT_FUNC PyInit__ascon(void) { return PyModuleDef_Init(&module_def); }
