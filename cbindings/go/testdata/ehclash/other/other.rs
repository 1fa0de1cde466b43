// Another Rust library with its own standard library: allocation, a
// thread, and a panic caught with catch_unwind (which needs the
// personality routine).
use std::collections::HashMap;

#[no_mangle]
pub extern "C" fn other_answer(x: u64) -> u64 {
    static QUIET: std::sync::Once = std::sync::Once::new();
    QUIET.call_once(|| std::panic::set_hook(Box::new(|_| {})));
    std::panic::catch_unwind(|| {
        let mut m = HashMap::new();
        m.insert(x, format!("{x}"));
        if x == 7 {
            panic!("seven");
        }
        let h = std::thread::spawn(move || x + 1);
        h.join().unwrap() + m.len() as u64 - 1
    })
    .unwrap_or(0)
}
