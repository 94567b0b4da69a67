//! The decode path's 20 ms clock, one grid for the whole process.

use std::time::{Duration, Instant};

/// The decode path's clock.
pub(super) const TICK: Duration = Duration::from_millis(20);

/// The first point of the process's 20 ms grid after `now`. Every bridge on the
/// decode path ticks on this one grid, so a media thread wakes once per 20 ms for
/// all of its mixed calls instead of once per call, and a spied call's frames reach
/// its supervisors' bridges at a steady phase.
pub(super) fn next_grid_point(now: Instant) -> Instant {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    // The grid's origin only: any instant will do, the first caller's is as good.
    let epoch = *EPOCH.get_or_init(|| now);
    grid_point_after(epoch, now)
}

/// The first point of the grid `epoch + k * TICK` (k >= 1) strictly after `now`.
fn grid_point_after(epoch: Instant, now: Instant) -> Instant {
    let tick = TICK.as_nanos();
    let since = now.saturating_duration_since(epoch).as_nanos();
    let k = since / tick + 1;
    epoch + Duration::from_nanos(u64::try_from(k * tick).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_points_are_strictly_after_now_and_on_the_grid() {
        let epoch = Instant::now();
        let ms = |n| Duration::from_millis(n);
        assert_eq!(grid_point_after(epoch, epoch), epoch + ms(20));
        assert_eq!(grid_point_after(epoch, epoch + ms(19)), epoch + ms(20));
        assert_eq!(grid_point_after(epoch, epoch + ms(20)), epoch + ms(40));
        assert_eq!(grid_point_after(epoch, epoch + ms(61)), epoch + ms(80));
    }
}
