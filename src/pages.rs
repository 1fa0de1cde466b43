//! Memory for the slab, straight from the system: blocks mapped at an
//! alignment (so a slot finds its segment's head from its own address), and
//! pages handed back when a segment empties while the addresses stay mapped:
//! a record through a stale handle must land in memory of ours and be
//! counted, never fault.
//!
//! Under loom the slab boxes its segments instead and nothing is handed back.

#![cfg(not(trackstats_loom))]

use std::sync::OnceLock;

/// The system's page size.
pub(crate) fn page_size() -> usize {
    static PAGE: OnceLock<usize> = OnceLock::new();
    *PAGE.get_or_init(|| {
        // SAFETY: sysconf has no preconditions.
        let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        if n > 0 {
            n as usize
        } else {
            4096
        }
    })
}

/// `len` rounded up to whole pages.
pub(crate) fn round_up(len: usize) -> usize {
    len.next_multiple_of(page_size())
}

/// A zeroed, private, read-write block of `round_up(len)` bytes at a
/// multiple of `align` (a power of two, at least a page). Aborts, as the
/// global allocator does, when the system has no memory to map.
pub(crate) fn map(len: usize, align: usize) -> *mut u8 {
    debug_assert!(align.is_power_of_two() && align >= page_size());
    let len = round_up(len);
    // Over-map by the alignment, then give back what lies outside the block.
    let span = len + align;
    // SAFETY: an anonymous private mapping at an address of the system's
    // choosing; nothing else is affected.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            span,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        std::alloc::handle_alloc_error(std::alloc::Layout::from_size_align(len, align).expect("a valid layout"));
    }
    let start = p as usize;
    let block = start.next_multiple_of(align);
    // SAFETY: both ranges lie inside the mapping just made and outside the
    // block returned; page-aligned (the mapping and the block are).
    unsafe {
        if block > start {
            libc::munmap(p, block - start);
        }
        let tail = start + span - (block + len);
        if tail > 0 {
            libc::munmap((block + len) as *mut libc::c_void, tail);
        }
    }
    block as *mut u8
}

/// Unmaps a block of `map`.
///
/// # Safety
/// `p` and `len` are a `map` call's result and argument; nothing refers to
/// the block any more.
pub(crate) unsafe fn unmap(p: *mut u8, len: usize) {
    // SAFETY: per the contract, the whole block `map` returned.
    unsafe { libc::munmap(p.cast(), round_up(len)) };
}

/// Hands the whole pages inside `[p, p + len)` back to the system: they read
/// as zeros afterwards, and cost memory again only once written. Returns how
/// many bytes were handed back.
///
/// # Safety
/// The range lies in a block of `map`, and the caller accepts that every
/// byte in those pages becomes zero (at any moment, for a racing writer).
pub(crate) unsafe fn discard(p: *const u8, len: usize) -> usize {
    let page = page_size();
    let start = (p as usize).next_multiple_of(page);
    let end = (p as usize + len) & !(page - 1);
    if end <= start {
        return 0;
    }
    // SAFETY: whole pages of a private anonymous mapping of ours, per the
    // contract; MADV_DONTNEED on them only drops their contents.
    let rc = unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED) };
    if rc == 0 {
        end - start
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_aligned_zeroed_and_discarded_pages_read_zero() {
        let (len, align) = (3 * page_size() + 100, 1 << 18);
        let p = map(len, align);
        assert_eq!(p as usize % align, 0);
        // SAFETY: `p` is a fresh block of `round_up(len)` bytes.
        let bytes = unsafe { std::slice::from_raw_parts_mut(p, round_up(len)) };
        assert!(bytes.iter().all(|&b| b == 0));
        bytes.fill(7);
        // From byte 1: the first page is only partly inside, so it stays.
        // SAFETY: inside the block; its contents are ours to drop.
        let n = unsafe { discard(p.add(1), len - 1) };
        assert_eq!(n, 2 * page_size(), "the whole pages inside the range");
        assert_eq!(bytes[page_size() - 1], 7);
        assert!(bytes[page_size()..3 * page_size()].iter().all(|&b| b == 0));
        assert_eq!(bytes[3 * page_size()], 7, "the last, partial page stays");
        // SAFETY: the block from `map`, no longer used.
        unsafe { unmap(p, len) };
    }
}
