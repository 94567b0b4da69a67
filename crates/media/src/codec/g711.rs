//! ITU-T G.711 companding, mu-law (PCMU) and A-law (PCMA), on 16-bit linear PCM.
//!
//! Encoding is computed (a few integer operations); decoding is a 256-entry table
//! built at compile time from the same rules, so the two directions cannot disagree.
//! Every code decodes to a value that encodes back to that same code, except mu-law's
//! "negative zero" 0x7F, which decodes to 0 like 0xFF (16-bit PCM has one zero).

/// Added before mu-law segment search so that segment boundaries fall on powers of two.
const ULAW_BIAS: i32 = 0x84;
/// Largest magnitude mu-law can represent once the bias is added (0x7FFF).
const ULAW_CLIP: i32 = 32_635;

/// mu-law code for a 16-bit sample.
pub const fn ulaw_encode(sample: i16) -> u8 {
    let mut x = sample as i32;
    let mask: i32 = if x < 0 {
        x = -x;
        0x7F
    } else {
        0xFF
    };
    if x > ULAW_CLIP {
        x = ULAW_CLIP;
    }
    x += ULAW_BIAS;
    // x >> 7 is in 1..=255, so the segment is the index of its highest set bit.
    let seg = 31 - ((x >> 7) as u32).leading_zeros() as i32;
    let mantissa = (x >> (seg + 3)) & 0x0F;
    (((seg << 4) | mantissa) ^ mask) as u8
}

/// Linear value of a mu-law code (the rule the table is built from).
const fn ulaw_decode_calc(code: u8) -> i16 {
    let u = !code as i32 & 0xFF;
    let t = (((u & 0x0F) << 3) + ULAW_BIAS) << ((u & 0x70) >> 4);
    if u & 0x80 != 0 {
        (ULAW_BIAS - t) as i16
    } else {
        (t - ULAW_BIAS) as i16
    }
}

/// A-law code for a 16-bit sample. A-law works on 13 bits, so the 3 low bits go.
pub const fn alaw_encode(sample: i16) -> u8 {
    let mut x = (sample as i32) >> 3;
    let mask: i32 = if x >= 0 {
        0xD5
    } else {
        // One's complement keeps the negative range symmetric (-1 -> 0).
        x = -x - 1;
        0x55
    };
    // Segment 0 and 1 share a step size; from segment 2 on each doubles.
    let seg = if x < 0x20 {
        0
    } else {
        let s = 32 - (x as u32).leading_zeros() as i32 - 5;
        if s > 7 {
            7
        } else {
            s
        }
    };
    let code = if x >= 0x1000 {
        0x7F
    } else if seg < 2 {
        (seg << 4) | ((x >> 1) & 0x0F)
    } else {
        (seg << 4) | ((x >> seg) & 0x0F)
    };
    (code ^ mask) as u8
}

/// Linear value of an A-law code (the rule the table is built from).
const fn alaw_decode_calc(code: u8) -> i16 {
    let a = (code ^ 0x55) as i32;
    let seg = (a & 0x70) >> 4;
    let mut t = (a & 0x0F) << 4;
    if seg == 0 {
        t += 8;
    } else {
        t = (t + 0x108) << (seg - 1);
    }
    if a & 0x80 != 0 {
        t as i16
    } else {
        -t as i16
    }
}

const fn build_table(alaw: bool) -> [i16; 256] {
    let mut t = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = if alaw {
            alaw_decode_calc(i as u8)
        } else {
            ulaw_decode_calc(i as u8)
        };
        i += 1;
    }
    t
}

const fn build_transcode(from_alaw: bool) -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = if from_alaw {
            ulaw_encode(alaw_decode_calc(i as u8))
        } else {
            alaw_encode(ulaw_decode_calc(i as u8))
        };
        i += 1;
    }
    t
}

static ULAW_TO_LINEAR: [i16; 256] = build_table(false);
static ALAW_TO_LINEAR: [i16; 256] = build_table(true);
static ULAW_TO_ALAW: [u8; 256] = build_transcode(false);
static ALAW_TO_ULAW: [u8; 256] = build_transcode(true);

/// Linear value of a mu-law code.
#[inline]
pub fn ulaw_decode(code: u8) -> i16 {
    ULAW_TO_LINEAR[usize::from(code)]
}

/// Linear value of an A-law code.
#[inline]
pub fn alaw_decode(code: u8) -> i16 {
    ALAW_TO_LINEAR[usize::from(code)]
}

/// The A-law code nearest to what a mu-law code means (one table look-up).
#[inline]
pub fn ulaw_to_alaw(code: u8) -> u8 {
    ULAW_TO_ALAW[usize::from(code)]
}

/// The mu-law code nearest to what an A-law code means (one table look-up).
#[inline]
pub fn alaw_to_ulaw(code: u8) -> u8 {
    ALAW_TO_ULAW[usize::from(code)]
}
