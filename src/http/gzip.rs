//! A small gzip (RFC 1952) encoder for the embedded web UI: DEFLATE (RFC 1951) with LZ77 over
//! hash chains (lazy matching) and Huffman codes fitted to the data (or the fixed codes, or
//! stored bytes, whichever is smaller), plus CRC-32. No crate needed, and
//! the assets are compressed once, on first use, so speed matters less than ratio.

/// 32 KiB: the largest distance DEFLATE can express.
const WINDOW: usize = 1 << 15;
const MIN_MATCH: usize = 3;
const MAX_MATCH: usize = 258;
const HASH_BITS: u32 = 15;
/// How many earlier positions with the same 3-byte hash are tried per match.
const MAX_CHAIN: usize = 256;
/// A match at least this long is taken without looking one byte ahead.
const GOOD_ENOUGH: usize = 64;

/// Length codes 257..=285: base length and extra bits.
const LEN_BASE: [u16; 29] =
    [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258];
const LEN_EXTRA: [u8; 29] = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
/// Distance codes 0..=29: base distance and extra bits.
const DIST_BASE: [u16; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145,
    8193, 12289, 16385, 24577,
];
const DIST_EXTRA: [u8; 30] =
    [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13];

/// CRC-32 (IEEE 802.3, reflected, as gzip uses it).
pub fn crc32(data: &[u8]) -> u32 {
    static TABLE: std::sync::OnceLock<[u32; 256]> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut t = [0u32; 256];
        for (i, e) in t.iter_mut().enumerate() {
            let mut c = i as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
            }
            *e = c;
        }
        t
    });
    let mut c = !0u32;
    for &b in data {
        c = table[((c ^ b as u32) & 0xff) as usize] ^ (c >> 8);
    }
    !c
}

/// Gzip member: 10-byte header, one DEFLATE stream, CRC-32 and size of the input.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    // ID1 ID2 CM=deflate FLG=0 MTIME=0 XFL=2 (best compression) OS=255 (unknown).
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 255];
    out.extend_from_slice(&deflate(data));
    out.extend_from_slice(&crc32(data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

/// Writes bits least-significant first, as DEFLATE packs them.
struct Bits {
    out: Vec<u8>,
    acc: u64,
    n: u32,
}

impl Bits {
    fn put(&mut self, value: u32, count: u32) {
        self.acc |= (value as u64) << self.n;
        self.n += count;
        while self.n >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.n -= 8;
        }
    }
    /// A Huffman code is defined most-significant bit first: reverse it before packing.
    fn code(&mut self, code: u32, len: u32) {
        self.put(code.reverse_bits() >> (32 - len), len);
    }
    fn finish(mut self) -> Vec<u8> {
        if self.n > 0 {
            self.out.push(self.acc as u8);
        }
        self.out
    }
}

fn hash3(d: &[u8], i: usize) -> usize {
    let v = (d[i] as u32) << 16 | (d[i + 1] as u32) << 8 | d[i + 2] as u32;
    (v.wrapping_mul(2_654_435_761) >> (32 - HASH_BITS)) as usize
}

/// Hash chains over the input: `head[h]` is the latest position with hash `h`, `prev[p]` the
/// one before `p` (positions are stored plus one, so 0 means none).
struct Matcher<'a> {
    d: &'a [u8],
    head: Vec<u32>,
    prev: Vec<u32>,
}

impl Matcher<'_> {
    fn insert(&mut self, i: usize) {
        if i + MIN_MATCH <= self.d.len() {
            let h = hash3(self.d, i);
            self.prev[i] = self.head[h];
            self.head[h] = i as u32 + 1;
        }
    }
    /// Longest earlier match for position `i` (which must already be inserted): (len, dist).
    fn longest(&self, i: usize) -> (usize, usize) {
        let d = self.d;
        let max = MAX_MATCH.min(d.len() - i);
        if max < MIN_MATCH {
            return (0, 0);
        }
        let (mut best_len, mut best_dist) = (0, 0);
        let mut cand = self.prev[i];
        let mut chain = MAX_CHAIN;
        while cand != 0 && chain > 0 {
            let j = cand as usize - 1;
            if i - j > WINDOW {
                break;
            }
            if d[j + best_len.min(max - 1)] == d[i + best_len.min(max - 1)] {
                let n = d[j..j + max].iter().zip(&d[i..i + max]).take_while(|(a, b)| a == b).count();
                if n > best_len {
                    best_len = n;
                    best_dist = i - j;
                    if n == max {
                        break;
                    }
                }
            }
            cand = self.prev[j];
            chain -= 1;
        }
        if best_len >= MIN_MATCH {
            (best_len, best_dist)
        } else {
            (0, 0)
        }
    }
}

/// One LZ77 token: a literal byte, or a match of `len` bytes `dist` back.
#[derive(Clone, Copy)]
enum Tok {
    Lit(u8),
    Match(u16, u16),
}

/// The input as LZ77 tokens, with lazy matching: a match found at `i` is kept only if the one
/// at `i + 1` is not longer.
fn tokens(d: &[u8]) -> Vec<Tok> {
    let mut out = Vec::with_capacity(d.len() / 3);
    let mut m = Matcher { d, head: vec![0; 1 << HASH_BITS], prev: vec![0; d.len()] };
    let mut i = 0;
    let mut pending: Option<(usize, usize)> = None;
    let tok = |len: usize, dist: usize| Tok::Match(len as u16, dist as u16);
    while i < d.len() {
        m.insert(i);
        let here = m.longest(i);
        match pending.take() {
            Some((plen, pdist)) if here.0 <= plen => {
                // Take the previous position's match; i is already inside it.
                out.push(tok(plen, pdist));
                for k in i + 1..i - 1 + plen {
                    m.insert(k);
                }
                i = i - 1 + plen;
                continue;
            }
            Some(_) => out.push(Tok::Lit(d[i - 1])),
            None => {}
        }
        if here.0 >= GOOD_ENOUGH {
            out.push(tok(here.0, here.1));
            for k in i + 1..i + here.0 {
                m.insert(k);
            }
            i += here.0;
        } else if here.0 > 0 {
            pending = Some(here);
            i += 1;
        } else {
            out.push(Tok::Lit(d[i]));
            i += 1;
        }
    }
    if let Some((plen, pdist)) = pending {
        out.push(tok(plen, pdist));
    }
    out
}

fn len_code(len: usize) -> usize {
    LEN_BASE.iter().rposition(|&b| b as usize <= len).expect("len >= 3")
}
fn dist_code(dist: usize) -> usize {
    DIST_BASE.iter().rposition(|&b| b as usize <= dist).expect("dist >= 1")
}

/// Huffman code lengths for `freq`, none longer than `limit`: plain Huffman, and while a code
/// is too long, the counts are halved (keeping used symbols used) and the tree rebuilt. Always
/// at least two symbols get a code, as inflaters expect.
fn code_lengths(freq: &[u32], limit: u8) -> Vec<u8> {
    let mut f: Vec<u64> = freq.iter().map(|&x| x as u64).collect();
    for i in 0..f.len() {
        if f.iter().filter(|&&x| x > 0).count() >= 2 {
            break;
        }
        if f[i] == 0 {
            f[i] = 1;
        }
    }
    loop {
        let lens = huffman(&f);
        if lens.iter().all(|&l| l <= limit) {
            return lens;
        }
        for x in f.iter_mut().filter(|x| **x > 0) {
            *x = x.div_ceil(2);
        }
    }
}

fn huffman(f: &[u64]) -> Vec<u8> {
    use std::cmp::Reverse;
    let n = f.len();
    let mut parent = vec![usize::MAX; 2 * n];
    let mut heap: std::collections::BinaryHeap<Reverse<(u64, usize)>> =
        (0..n).filter(|&i| f[i] > 0).map(|i| Reverse((f[i], i))).collect();
    let mut next = n;
    while heap.len() > 1 {
        let (Some(Reverse((w1, a))), Some(Reverse((w2, b)))) = (heap.pop(), heap.pop()) else { break };
        parent[a] = next;
        parent[b] = next;
        heap.push(Reverse((w1 + w2, next)));
        next += 1;
    }
    (0..n)
        .map(|i| {
            if f[i] == 0 {
                return 0;
            }
            let (mut d, mut x) = (0u32, i);
            while parent[x] != usize::MAX {
                x = parent[x];
                d += 1;
            }
            d.min(255) as u8
        })
        .collect()
}

/// Canonical codes for the lengths (RFC 1951 3.2.2).
fn canonical(lens: &[u8]) -> Vec<u32> {
    let mut count = [0u32; 16];
    for &l in lens.iter().filter(|&&l| l > 0) {
        count[l as usize] += 1;
    }
    let mut next = [0u32; 16];
    let mut code = 0;
    for bits in 1..16 {
        code = (code + count[bits - 1]) << 1;
        next[bits] = code;
    }
    lens.iter()
        .map(|&l| {
            if l == 0 {
                return 0;
            }
            let c = next[l as usize];
            next[l as usize] += 1;
            c
        })
        .collect()
}

/// A literal/length and a distance code: (lengths, codes) of each.
struct Codes {
    lit: (Vec<u8>, Vec<u32>),
    dist: (Vec<u8>, Vec<u32>),
}

fn fixed_codes() -> Codes {
    let mut lit = vec![8u8; 144];
    lit.extend([9u8; 112]);
    lit.extend([7u8; 24]);
    lit.extend([8u8; 8]);
    let dist = vec![5u8; 30];
    Codes { lit: (lit.clone(), canonical(&lit)), dist: (dist.clone(), canonical(&dist)) }
}

/// Bits the tokens take with `c` (extra bits included).
fn cost(toks: &[Tok], c: &Codes) -> u64 {
    let mut bits = c.lit.0[256] as u64;
    for t in toks {
        bits += match *t {
            Tok::Lit(b) => c.lit.0[b as usize] as u64,
            Tok::Match(len, dist) => {
                let (li, di) = (len_code(len as usize), dist_code(dist as usize));
                (c.lit.0[257 + li] + LEN_EXTRA[li] + c.dist.0[di] + DIST_EXTRA[di]) as u64
            }
        };
    }
    bits
}

fn put_tokens(w: &mut Bits, toks: &[Tok], c: &Codes) {
    let sym = |w: &mut Bits, (lens, codes): &(Vec<u8>, Vec<u32>), s: usize| w.code(codes[s], lens[s] as u32);
    for t in toks {
        match *t {
            Tok::Lit(b) => sym(w, &c.lit, b as usize),
            Tok::Match(len, dist) => {
                let (len, dist) = (len as usize, dist as usize);
                let li = len_code(len);
                sym(w, &c.lit, 257 + li);
                w.put((len - LEN_BASE[li] as usize) as u32, LEN_EXTRA[li] as u32);
                let di = dist_code(dist);
                sym(w, &c.dist, di);
                w.put((dist - DIST_BASE[di] as usize) as u32, DIST_EXTRA[di] as u32);
            }
        }
    }
    sym(w, &c.lit, 256);
}

/// Order in which code-length code lengths are sent.
const CL_ORDER: [usize; 19] = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

/// The dynamic header: code lengths run-length coded (16 = repeat previous, 17/18 = zeros).
struct Header {
    hlit: usize,
    hdist: usize,
    /// (symbol, extra value, extra bits)
    runs: Vec<(u8, u8, u8)>,
    cl: (Vec<u8>, Vec<u32>),
    hclen: usize,
}

fn header(c: &Codes) -> Header {
    let hlit = 257.max(c.lit.0.iter().rposition(|&l| l > 0).map_or(0, |p| p + 1));
    let hdist = 1.max(c.dist.0.iter().rposition(|&l| l > 0).map_or(0, |p| p + 1));
    let all: Vec<u8> = c.lit.0[..hlit].iter().chain(&c.dist.0[..hdist]).copied().collect();
    let mut runs = Vec::new();
    let mut i = 0;
    while i < all.len() {
        let l = all[i];
        let run = all[i..].iter().take_while(|&&x| x == l).count();
        if l == 0 && run >= 11 {
            let n = run.min(138);
            runs.push((18, (n - 11) as u8, 7));
            i += n;
        } else if l == 0 && run >= 3 {
            runs.push((17, (run - 3) as u8, 3));
            i += run;
        } else if l != 0 && run >= 4 {
            runs.push((l, 0, 0));
            let n = (run - 1).min(6);
            runs.push((16, (n - 3) as u8, 2));
            i += 1 + n;
        } else {
            runs.push((l, 0, 0));
            i += 1;
        }
    }
    let mut freq = [0u32; 19];
    for r in &runs {
        freq[r.0 as usize] += 1;
    }
    let lens = code_lengths(&freq, 7);
    let hclen = 4.max(CL_ORDER.iter().rposition(|&s| lens[s] > 0).map_or(0, |p| p + 1));
    Header { hlit, hdist, runs, cl: (lens.clone(), canonical(&lens)), hclen }
}

fn header_bits(h: &Header) -> u64 {
    14 + 3 * h.hclen as u64 + h.runs.iter().map(|r| (h.cl.0[r.0 as usize] + r.2) as u64).sum::<u64>()
}

/// A raw DEFLATE stream in one final block: dynamic Huffman codes fitted to the data, or the
/// fixed codes, or stored bytes, whichever is smallest.
pub fn deflate(d: &[u8]) -> Vec<u8> {
    let toks = tokens(d);
    let mut lit_f = [0u32; 286];
    let mut dist_f = [0u32; 30];
    lit_f[256] = 1;
    for t in &toks {
        match *t {
            Tok::Lit(b) => lit_f[b as usize] += 1,
            Tok::Match(len, dist) => {
                lit_f[257 + len_code(len as usize)] += 1;
                dist_f[dist_code(dist as usize)] += 1;
            }
        }
    }
    let lit = code_lengths(&lit_f, 15);
    let dist = code_lengths(&dist_f, 15);
    let dynamic = Codes { lit: (lit.clone(), canonical(&lit)), dist: (dist.clone(), canonical(&dist)) };
    let h = header(&dynamic);
    let dyn_bits = 3 + header_bits(&h) + cost(&toks, &dynamic);
    let fixed = fixed_codes();
    let fixed_bits = 3 + cost(&toks, &fixed);
    let stored_bits = (d.len() as u64 + 5 * (d.len() as u64 / 65_535 + 1)) * 8;
    let mut w = Bits { out: Vec::with_capacity((dyn_bits.min(fixed_bits) / 8 + 16) as usize), acc: 0, n: 0 };
    if stored_bits < dyn_bits.min(fixed_bits) {
        // Stored blocks of at most 65,535 bytes, each byte-aligned after its 3 header bits.
        let chunks: Vec<&[u8]> = d.chunks(65_535).collect();
        for (k, c) in chunks.iter().enumerate() {
            w.put((k + 1 == chunks.len()) as u32, 1);
            w.put(0, 2);
            if w.n > 0 {
                w.put(0, 8 - w.n);
            }
            w.put(c.len() as u32, 16);
            w.put(!(c.len() as u32) & 0xffff, 16);
            w.out.extend_from_slice(c);
        }
        return w.finish();
    }
    w.put(1, 1); // BFINAL
    if dyn_bits < fixed_bits {
        w.put(2, 2); // BTYPE = 10, dynamic Huffman
        w.put((h.hlit - 257) as u32, 5);
        w.put((h.hdist - 1) as u32, 5);
        w.put((h.hclen - 4) as u32, 4);
        for &s in &CL_ORDER[..h.hclen] {
            w.put(h.cl.0[s] as u32, 3);
        }
        for &(sym, extra, bits) in &h.runs {
            w.code(h.cl.1[sym as usize], h.cl.0[sym as usize] as u32);
            w.put(extra as u32, bits as u32);
        }
        put_tokens(&mut w, &toks, &dynamic);
    } else {
        w.put(1, 2); // BTYPE = 01, fixed Huffman
        put_tokens(&mut w, &toks, &fixed);
    }
    w.finish()
}

/// Whether an `Accept-Encoding` header value allows gzip (`gzip` or `*` with a non-zero q).
pub fn accepts_gzip(header: &str) -> bool {
    let mut star = false;
    for item in header.split(',') {
        let mut parts = item.split(';');
        let name = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q=").or_else(|| p.trim().strip_prefix("Q=")))
            .find_map(|v| v.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        match name.as_str() {
            "gzip" | "x-gzip" => return q > 0.0,
            "*" => star = q > 0.0,
            _ => {}
        }
    }
    star
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A test-only inflater (stored, fixed and dynamic blocks), written from RFC 1951 to check
    /// the encoder independently of it: canonical codes decoded bit by bit.
    struct Reader<'a> {
        d: &'a [u8],
        pos: usize,
        bit: u32,
    }

    impl Reader<'_> {
        fn bit(&mut self) -> u32 {
            let b = (self.d[self.pos] >> self.bit) & 1;
            self.bit += 1;
            if self.bit == 8 {
                self.bit = 0;
                self.pos += 1;
            }
            b as u32
        }
        fn bits(&mut self, n: u32) -> u32 {
            (0..n).fold(0, |acc, k| acc | self.bit() << k)
        }
    }

    /// Canonical Huffman table: count of codes per length and symbols in code order.
    struct Huff {
        count: [u16; 16],
        symbols: Vec<u16>,
    }

    fn huff(lengths: &[u8]) -> Huff {
        let mut count = [0u16; 16];
        for &l in lengths {
            count[l as usize] += 1;
        }
        count[0] = 0;
        let mut symbols = Vec::new();
        for len in 1..16 {
            for (s, &l) in lengths.iter().enumerate() {
                if l as usize == len {
                    symbols.push(s as u16);
                }
            }
        }
        Huff { count, symbols }
    }

    fn decode(r: &mut Reader, h: &Huff) -> u16 {
        let (mut code, mut first, mut index) = (0i32, 0i32, 0i32);
        for len in 1..16 {
            code |= r.bit() as i32;
            let count = h.count[len] as i32;
            if code - count < first {
                return h.symbols[(index + (code - first)) as usize];
            }
            index += count;
            first = (first + count) << 1;
            code <<= 1;
        }
        panic!("bad Huffman code");
    }

    fn inflate(d: &[u8]) -> Vec<u8> {
        let mut r = Reader { d, pos: 0, bit: 0 };
        let mut out: Vec<u8> = Vec::new();
        loop {
            let last = r.bits(1);
            let ty = r.bits(2);
            match ty {
                0 => {
                    if r.bit != 0 {
                        r.bit = 0;
                        r.pos += 1;
                    }
                    let len = u16::from_le_bytes([d[r.pos], d[r.pos + 1]]) as usize;
                    let nlen = u16::from_le_bytes([d[r.pos + 2], d[r.pos + 3]]) as usize;
                    assert_eq!(len, !nlen & 0xffff);
                    out.extend_from_slice(&d[r.pos + 4..r.pos + 4 + len]);
                    r.pos += 4 + len;
                }
                1 | 2 => {
                    let (lit, dist) = if ty == 1 {
                        let mut l = vec![8u8; 144];
                        l.extend([9u8; 112]);
                        l.extend([7u8; 24]);
                        l.extend([8u8; 8]);
                        (huff(&l), huff(&[5u8; 30]))
                    } else {
                        let hlit = r.bits(5) as usize + 257;
                        let hdist = r.bits(5) as usize + 1;
                        let hclen = r.bits(4) as usize + 4;
                        const ORDER: [usize; 19] = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];
                        let mut cl = [0u8; 19];
                        for &o in &ORDER[..hclen] {
                            cl[o] = r.bits(3) as u8;
                        }
                        let clh = huff(&cl);
                        let mut lens = Vec::new();
                        while lens.len() < hlit + hdist {
                            match decode(&mut r, &clh) {
                                s @ 0..=15 => lens.push(s as u8),
                                16 => {
                                    let p = *lens.last().unwrap();
                                    lens.extend(std::iter::repeat_n(p, 3 + r.bits(2) as usize));
                                }
                                17 => lens.extend(std::iter::repeat_n(0, 3 + r.bits(3) as usize)),
                                _ => lens.extend(std::iter::repeat_n(0, 11 + r.bits(7) as usize)),
                            }
                        }
                        (huff(&lens[..hlit]), huff(&lens[hlit..]))
                    };
                    loop {
                        let s = decode(&mut r, &lit) as usize;
                        if s < 256 {
                            out.push(s as u8);
                        } else if s == 256 {
                            break;
                        } else {
                            let li = s - 257;
                            let len = LEN_BASE[li] as usize + r.bits(LEN_EXTRA[li] as u32) as usize;
                            let di = decode(&mut r, &dist) as usize;
                            let dd = DIST_BASE[di] as usize + r.bits(DIST_EXTRA[di] as u32) as usize;
                            assert!(dd <= out.len() && dd <= WINDOW, "distance {dd} too far");
                            for _ in 0..len {
                                out.push(out[out.len() - dd]);
                            }
                        }
                    }
                }
                _ => panic!("reserved block type"),
            }
            if last == 1 {
                return out;
            }
        }
    }

    fn gunzip(g: &[u8]) -> Vec<u8> {
        assert_eq!(&g[..4], &[0x1f, 0x8b, 8, 0]);
        let n = g.len();
        let out = inflate(&g[10..n - 8]);
        assert_eq!(u32::from_le_bytes(g[n - 8..n - 4].try_into().unwrap()), crc32(&out), "crc");
        assert_eq!(u32::from_le_bytes(g[n - 4..].try_into().unwrap()) as usize, out.len(), "isize");
        out
    }

    #[test]
    fn crc32_known_values() {
        assert_eq!(crc32(b""), 0);
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b"The quick brown fox jumps over the lazy dog"), 0x414F_A339);
    }

    #[test]
    fn round_trips() {
        let mut rng = 0x1234_5678u32;
        let mut noise = Vec::new();
        for _ in 0..70_000 {
            rng ^= rng << 13;
            rng ^= rng >> 17;
            rng ^= rng << 5;
            noise.push(rng as u8);
        }
        let long_runs: Vec<u8> = (0..100_000).map(|i| if i % 1000 < 600 { b'a' } else { (i % 7) as u8 }).collect();
        let far_repeat: Vec<u8> =
            noise[..20_000].iter().chain(&noise[..20_000]).chain(&noise[..20_000]).copied().collect();
        let cases: Vec<Vec<u8>> = vec![
            Vec::new(),
            b"a".to_vec(),
            b"ab".to_vec(),
            b"abc".to_vec(),
            b"aaaa".to_vec(),
            vec![0; 1000],
            vec![255; 300_000],
            b"abcabcabcabcabcabcabc-xyzxyzxyz-abcabc".to_vec(),
            noise,
            long_runs,
            far_repeat,
            include_bytes!("../../static/index.html").to_vec(),
            include_bytes!("../../static/vendor/uplot-1.6.32/uPlot.iife.min.js").to_vec(),
        ];
        for c in cases {
            let z = gzip(&c);
            assert_eq!(gunzip(&z), c, "round trip of {} bytes", c.len());
        }
    }

    #[test]
    fn compresses_text() {
        let js = include_bytes!("../../static/vendor/uplot-1.6.32/uPlot.iife.min.js");
        let z = gzip(js);
        assert!(z.len() * 2 < js.len(), "{} -> {}", js.len(), z.len());
        let z = gzip(&[7u8; 100_000]);
        assert!(z.len() < 1000, "a run of one byte -> {}", z.len());
    }

    #[test]
    fn accept_encoding() {
        assert!(accepts_gzip("gzip, deflate, br"));
        assert!(accepts_gzip("br;q=1.0, gzip;q=0.8"));
        assert!(accepts_gzip("*"));
        assert!(!accepts_gzip("gzip;q=0"));
        assert!(!accepts_gzip("br, deflate"));
        assert!(!accepts_gzip("identity"));
        assert!(!accepts_gzip(""));
        assert!(!accepts_gzip("*;q=0"));
    }
}
