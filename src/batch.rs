//! Receiving in batches: wait for one item, then take whatever else is
//! already queued, up to a bound, so one commit (the event writer's group
//! commit, the delivery recorder's) serves a whole burst.

use tokio::sync::mpsc;

/// Blocks the current (non-async) thread until an item arrives, then adds
/// the items already waiting while the batch weighs less than `max`
/// (`weight` of each item, e.g. the events a request carries; at least one
/// item is always taken). `None` once the channel is closed and empty.
pub fn recv_batch_blocking<T>(
    rx: &mut mpsc::Receiver<T>,
    max: usize,
    weight: impl Fn(&T) -> usize,
) -> Option<Vec<T>> {
    let first = rx.blocking_recv()?;
    let mut total = weight(&first);
    let mut batch = vec![first];
    while total < max {
        match rx.try_recv() {
            Ok(next) => {
                total += weight(&next);
                batch.push(next);
            }
            Err(_) => break,
        }
    }
    Some(batch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_what_is_queued_up_to_the_weight_then_ends_with_the_channel() {
        let (tx, mut rx) = mpsc::channel::<usize>(16);
        for n in [1, 2, 3, 4, 5] {
            tx.try_send(n).expect("send");
        }
        // 1 + 2 + 3 = 6 reaches 5: the batch closes after the item that crossed it.
        assert_eq!(recv_batch_blocking(&mut rx, 5, |n| *n), Some(vec![1, 2, 3]));
        assert_eq!(recv_batch_blocking(&mut rx, 100, |_| 1), Some(vec![4, 5]));
        drop(tx);
        assert_eq!(recv_batch_blocking(&mut rx, 100, |_| 1), None);
    }
}
