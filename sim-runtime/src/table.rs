//! A slab whose places can be located without being read.
//!
//! Values live in one vector by key; a freed key is reused last in, first
//! out, through a list threaded through the vacant places (as `slab` does).
//! What `slab` does not offer is [`Table::place_ptr`]: the address of a
//! place, computed from its key alone, so that the executor and the timer
//! queue can fetch a place they will read a few steps later (a prefetch
//! needs the address before the read, not after it).

/// A place: a value, or the next vacant key ([`NONE`] for none).
pub(crate) enum Place<T> {
    Used(T),
    Vacant(usize),
}

/// No key: the end of the vacant list.
const NONE: usize = usize::MAX;

/// Values by key.
pub(crate) struct Table<T> {
    places: Vec<Place<T>>,
    /// The first vacant key, or [`NONE`].
    vacant: usize,
    len: usize,
}

impl<T> Default for Table<T> {
    fn default() -> Table<T> {
        Table {
            places: Vec::new(),
            vacant: NONE,
            len: 0,
        }
    }
}

impl<T> Table<T> {
    /// How many values the table holds.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// How many values the table holds without growing.
    pub(crate) fn capacity(&self) -> usize {
        self.places.capacity()
    }

    /// Places, used or vacant: one past the highest key handed out.
    #[inline]
    pub(crate) fn places(&self) -> usize {
        self.places.len()
    }

    /// Drops every value, keeping the memory; keys start from 0 again.
    pub(crate) fn clear(&mut self) {
        self.places.clear();
        self.vacant = NONE;
        self.len = 0;
    }

    /// The key the next [`insert`](Self::insert) uses.
    pub(crate) fn vacant_key(&self) -> usize {
        if self.vacant == NONE {
            self.places.len()
        } else {
            self.vacant
        }
    }

    pub(crate) fn insert(&mut self, value: T) -> usize {
        self.len += 1;
        if self.vacant == NONE {
            self.places.push(Place::Used(value));
            return self.places.len() - 1;
        }
        let key = self.vacant;
        match std::mem::replace(&mut self.places[key], Place::Used(value)) {
            Place::Vacant(next) => self.vacant = next,
            Place::Used(_) => unreachable!("the vacant list holds vacant keys"),
        }
        key
    }

    /// Removes the value at `key`.
    ///
    /// # Panics
    /// If `key` holds no value.
    pub(crate) fn remove(&mut self, key: usize) -> T {
        let place = std::mem::replace(&mut self.places[key], Place::Vacant(self.vacant));
        let Place::Used(value) = place else {
            self.places[key] = place;
            panic!("no value at key {key}")
        };
        self.vacant = key;
        self.len -= 1;
        value
    }

    #[inline]
    pub(crate) fn get(&self, key: usize) -> Option<&T> {
        match self.places.get(key)? {
            Place::Used(value) => Some(value),
            Place::Vacant(_) => None,
        }
    }

    #[inline]
    pub(crate) fn get_mut(&mut self, key: usize) -> Option<&mut T> {
        match self.places.get_mut(key)? {
            Place::Used(value) => Some(value),
            Place::Vacant(_) => None,
        }
    }

    /// Where the place of `key` is, computed without reading it: for a
    /// prefetch (out of bounds, it points nowhere useful, and that is all).
    #[inline]
    pub(crate) fn place_ptr(&self, key: usize) -> *const Place<T> {
        self.places.as_ptr().wrapping_add(key)
    }

    /// Every value with its key, in key order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (usize, &T)> {
        self.places
            .iter()
            .enumerate()
            .filter_map(|(key, place)| match place {
                Place::Used(value) => Some((key, value)),
                Place::Vacant(_) => None,
            })
    }

    /// Takes every value out, in key order, leaving the table empty.
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = T> + '_ {
        self.vacant = NONE;
        self.len = 0;
        self.places.drain(..).filter_map(|place| match place {
            Place::Used(value) => Some(value),
            Place::Vacant(_) => None,
        })
    }
}

impl<T> std::ops::Index<usize> for Table<T> {
    type Output = T;

    #[inline]
    fn index(&self, key: usize) -> &T {
        self.get(key)
            .unwrap_or_else(|| panic!("no value at key {key}"))
    }
}

impl<T> std::ops::IndexMut<usize> for Table<T> {
    #[inline]
    fn index_mut(&mut self, key: usize) -> &mut T {
        self.get_mut(key)
            .unwrap_or_else(|| panic!("no value at key {key}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_reused_last_in_first_out() {
        let mut t = Table::default();
        let keys: Vec<usize> = (0..5).map(|i| t.insert(i * 10)).collect();
        assert_eq!(keys, [0, 1, 2, 3, 4]);
        assert_eq!(t.remove(1), 10);
        assert_eq!(t.remove(3), 30);
        assert_eq!(t.len(), 3);
        assert_eq!(t.get(1), None);
        assert_eq!(t.vacant_key(), 3);
        assert_eq!(t.insert(7), 3);
        assert_eq!(t.insert(8), 1);
        assert_eq!(t.insert(9), 5);
        assert_eq!(
            t.iter().map(|(k, v)| (k, *v)).collect::<Vec<_>>(),
            [(0, 0), (1, 8), (2, 20), (3, 7), (4, 40), (5, 9)]
        );
        assert_eq!(t.drain().collect::<Vec<_>>(), [0, 8, 20, 7, 40, 9]);
        assert_eq!((t.len(), t.places()), (0, 0));
        assert_eq!(t.insert(1), 0);
    }

    #[test]
    fn a_place_is_where_its_value_is() {
        let mut t = Table::default();
        for i in 0..10u64 {
            t.insert(i);
        }
        let place = t.place_ptr(6);
        assert!(std::ptr::eq(place, &t.places[6]));
    }

    #[test]
    #[should_panic(expected = "no value at key 2")]
    fn removing_a_vacant_key_panics() {
        let mut t = Table::default();
        t.insert(1);
        t.insert(2);
        t.insert(3);
        t.remove(2);
        t.remove(2);
    }
}
