//! How many tenants a node should take or hand over this round: pure
//! arithmetic, so the lease loop's policy is tested without a database.

/// A node's fair share: the tenants spread over the live nodes, rounded up
/// (so the shares cover every tenant). A node not yet counted alive still
/// counts itself.
pub fn fair_share(tenants: i64, live_nodes: i64) -> i64 {
    let nodes = live_nodes.max(1);
    (tenants.max(0) + nodes - 1) / nodes
}

/// What a node holding `held` leases does this round, with `share` its fair share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Move {
    /// Take up to this many unowned or expired tenants.
    Take(i64),
    /// Hand this many over (stop them, then release their leases).
    HandOver(i64),
    Stay,
}

/// At most this fraction of its share a node hands over per round, at least
/// one: a joining node fills up over a few rounds, never by a stampede of
/// reconnections.
const HANDOVER_DIVISOR: i64 = 4;

pub fn next_move(held: i64, share: i64) -> Move {
    if held < share {
        Move::Take(share - held)
    } else if held > share {
        let step = (share / HANDOVER_DIVISOR).max(1);
        Move::HandOver((held - share).min(step))
    } else {
        Move::Stay
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_cover_every_tenant() {
        assert_eq!(fair_share(30, 3), 10);
        assert_eq!(fair_share(31, 3), 11);
        assert_eq!(fair_share(30, 0), 30, "a node not yet seen alive counts itself");
        assert_eq!(fair_share(0, 3), 0);
    }

    #[test]
    fn a_node_takes_up_to_its_share_and_hands_over_gradually() {
        assert_eq!(next_move(0, 10), Move::Take(10));
        assert_eq!(next_move(10, 10), Move::Stay);
        assert_eq!(next_move(15, 10), Move::HandOver(2), "a quarter of the share per round");
        assert_eq!(next_move(11, 10), Move::HandOver(1));
        assert_eq!(next_move(3, 1), Move::HandOver(1), "at least one");
    }
}
