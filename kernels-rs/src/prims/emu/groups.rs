//! The group bookkeeping that `cp.async` and `wgmma` share: operations are
//! issued, committed into groups, and performed when a `wait_group` covers
//! their group (every group but the newest `N`, oldest first).

use std::collections::VecDeque;
use std::vec::Vec;

/// One thread's issued operations of one kind.
pub(crate) struct AsyncGroups<T> {
    uncommitted: Vec<T>,
    committed: VecDeque<Vec<T>>,
}

impl<T> Default for AsyncGroups<T> {
    fn default() -> Self {
        AsyncGroups {
            uncommitted: Vec::new(),
            committed: VecDeque::new(),
        }
    }
}

impl<T> AsyncGroups<T> {
    pub(crate) fn issue(&mut self, op: T) {
        self.uncommitted.push(op);
    }

    /// `commit_group`: the operations issued since the last commit become one
    /// group (an empty one if there are none).
    pub(crate) fn commit(&mut self) {
        let group = core::mem::take(&mut self.uncommitted);
        self.committed.push_back(group);
    }

    /// The operations a `wait_group pending` covers, oldest first, taken out.
    pub(crate) fn take_ready(&mut self, pending: usize) -> Vec<T> {
        let n = self.committed.len().saturating_sub(pending);
        self.committed.drain(..n).flatten().collect()
    }

    pub(crate) fn has_uncommitted(&self) -> bool {
        !self.uncommitted.is_empty()
    }

    /// Nothing issued and not performed.
    pub(crate) fn is_empty(&self) -> bool {
        self.uncommitted.is_empty() && self.committed.is_empty()
    }
}
