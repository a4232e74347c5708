//! The hot path allocates nothing per row: a counting allocator watches `push_line`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use mpd_decode::{EventBatchBuilder, LineFormat, TimeCorrection};

thread_local! {
    /// Allocations made by this thread; per thread, so tests running beside it do not count.
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

struct Counting;

// SAFETY: every call is forwarded unchanged to the system allocator; the counter is a
// thread-local `Cell` with a const initialiser, which itself never allocates.
#[allow(unsafe_code, reason = "a global allocator is the only way to observe allocations")]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, passed on as is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

fn export_line(i: u32) -> String {
    format!(
        r#"{{"event":"Page View","properties":{{"time":{},"distinct_id":"user_{i}","$insert_id":"{i:032x}","$device_id":"{:016x}","mp_processing_time_ms":{},"$browser":"Chrome","$os":"Linux","$city":"Berlin","$screen_width":1920,"mp_lib":"web","items":["a","b"],"amount":12.5,"$user_id":"user_{i}"}}}}"#,
        1_735_689_600 + i,
        u64::from(i) * 7919,
        (1_735_689_600 + u64::from(i)) * 1000,
    )
}

#[test]
fn push_line_does_not_allocate_per_row() {
    let lines: Vec<String> = (0..600).map(export_line).collect();
    let mut builder = EventBatchBuilder::new(LineFormat::Export, TimeCorrection::None, 1, 1000);
    // The first lines size the parser's reusable buffers.
    for line in &lines[..100] {
        builder.push_line(line.as_bytes()).unwrap();
    }
    let before = allocations();
    for line in &lines[100..] {
        builder.push_line(line.as_bytes()).unwrap();
    }
    let during = allocations() - before;
    assert_eq!(during, 0, "{during} allocations for 500 rows");
    assert_eq!(builder.finish().map(|b| b.num_rows()), Some(600));
}

#[test]
fn the_counter_sees_allocations() {
    let before = allocations();
    let v = std::hint::black_box(vec![1u8; 100]);
    assert!(allocations() > before, "{v:?}");
}
