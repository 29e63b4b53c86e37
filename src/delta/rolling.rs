//! Stand-in.
pub fn checksum1(data: &[u8]) -> u32 {
    let (mut s1, mut s2) = (0u32, 0u32);
    for &b in data {
        s1 = s1.wrapping_add(b as i8 as i32 as u32);
        s2 = s2.wrapping_add(s1);
    }
    (s1 & 0xffff) | (s2 << 16)
}
