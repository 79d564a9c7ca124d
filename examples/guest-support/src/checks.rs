//! The check counter every example root task reports through.

use core::fmt::Display;

/// Counts checks; every failure is printed as it happens, as
/// `<name>: CHECK FAILED: <what>` (a marker the system tests forbid).
#[derive(Debug)]
pub struct Checks {
    name: &'static str,
    run: u32,
    failed: u32,
}

impl Checks {
    /// A counter whose lines start with `name:`.
    pub const fn new(name: &'static str) -> Self {
        Self {
            name,
            run: 0,
            failed: 0,
        }
    }

    /// Counts one check; `what` describes a failure and is only built then.
    /// Returns `ok`.
    pub fn check<D: Display>(&mut self, ok: bool, what: impl FnOnce() -> D) -> bool {
        self.run += 1;
        if !ok {
            self.failed += 1;
            sel4_rt::println!("{}: CHECK FAILED: {}", self.name, what());
        }
        ok
    }

    /// Checks run so far.
    pub fn run_count(&self) -> u32 {
        self.run
    }

    /// Checks failed so far.
    pub fn failed_count(&self) -> u32 {
        self.failed
    }

    /// Runs `f` with a new counter named `name`, counts an `Err` it returns
    /// as a failed check, then prints the summary (see [`Checks::finish`]).
    pub fn run<E: core::fmt::Debug>(
        name: &'static str,
        f: impl FnOnce(&mut Checks) -> Result<(), E>,
    ) -> bool {
        let mut c = Checks::new(name);
        if let Err(e) = f(&mut c) {
            c.check(false, || alloc::format!("{e:?}"));
        }
        c.finish()
    }

    /// Prints the summary: `<name>: N checks run` and `<name>: all checks
    /// passed` (what the system tests wait for), or `<name>: F of N checks
    /// failed`. Returns true if all passed.
    pub fn finish(&self) -> bool {
        let name = self.name;
        if self.failed == 0 {
            sel4_rt::println!("{name}: {} checks run", self.run);
            sel4_rt::println!("{name}: all checks passed");
        } else {
            sel4_rt::println!("{name}: {} of {} checks failed", self.failed, self.run);
        }
        self.failed == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::cell::Cell;

    #[test]
    fn counts_and_builds_messages_only_for_failures() {
        let built = Cell::new(0);
        let mut c = Checks::new("t");
        assert!(c.check(true, || {
            built.set(built.get() + 1);
            "never"
        }));
        assert!(c.finish());
        assert!(!c.check(false, || {
            built.set(built.get() + 1);
            "once"
        }));
        assert_eq!((c.run_count(), c.failed_count(), built.get()), (2, 1, 1));
        assert!(!c.finish());
    }

    #[test]
    fn run_counts_an_error_as_a_failure() {
        assert!(Checks::run("t", |c| {
            c.check(true, || "");
            Ok::<(), ()>(())
        }));
        assert!(!Checks::run("t", |_| Err("boom")));
    }
}
