//! create / start / state / kill / delete / run and their exit codes.

use itest::Test;

#[test]
fn run_exit_code_zero() {
    let Some(mut t) = Test::new() else { return };
    t.run_reporter(&["exit", "0"]).expect_code(0);
}
