//! A serde `Deserializer` adapter that bounds how deeply values nest and how
//! many items they announce and hold, and grows the stack when it runs low,
//! so that decoding a child's output can neither overflow the caller's
//! stack, nor recurse or loop without end, nor reserve memory its frame does
//! not justify.
//!
//! Every place where serde hands a nested deserializer to the value being
//! built (an element, a map key or value, an enum's variant and payload, the
//! inside of an `Option` or of a newtype) is one level. The depth is counted
//! there, not in the format's containers, because a type can recurse without
//! consuming input: for `struct A(Option<Box<A>>)` a MessagePack decoder that
//! sees a non-`nil` marker calls `A::deserialize` again on the same marker,
//! forever.
//!
//! The adapter follows dtolnay's serde_stacker (it wraps the same five serde
//! traits at the same points), adding the depth limit: stacker's
//! `maybe_grow` alone would turn a million-deep value into a million stack
//! frames on the heap.

use std::cell::Cell;
use std::fmt;

use serde::de::{self, Deserialize, DeserializeSeed};

/// Below this much stack left, the next level continues on a new stack. It
/// covers one level's frames (measured for a `Box`ed enum: 1.8 KiB in a debug
/// build, 416 bytes in release) and serde's own replay of a buffered
/// untagged or internally tagged value, which recurses as deep as that value
/// without passing here (a test replays one at the depth limit on a 256 KiB
/// thread).
const RED_ZONE: usize = 256 * 1024;

/// The size of each new stack: enough for a few hundred levels of a debug
/// build, so a deep value needs few of them.
const STACK_SIZE: usize = 2 * 1024 * 1024;

/// Deserializes a `T` from `deserializer`, failing with the deserializer's
/// own error type when the value nests deeper than `max_depth` levels.
///
/// The lengths that containers announce (which serde uses to preallocate,
/// up to 1 MiB each) are capped so that all the containers open at once are
/// promised at most `max_items` items: the payload's length, since every item
/// takes at least one byte. A forged length then reserves no more than the
/// payload's own length implies, however many containers claim it; and
/// reading more than `max_items` items in all is an error.
pub(super) fn deserialize<'de, T, D>(
    deserializer: D,
    max_depth: usize,
    max_items: usize,
) -> Result<T, D::Error>
where
    T: Deserialize<'de>,
    D: de::Deserializer<'de>,
{
    let budget = Budget {
        max: max_depth,
        left: Cell::new(max_depth),
        floor: Cell::new(usize::MAX),
        unpledged: Cell::new(max_items),
    };
    budget.nest(|| T::deserialize(Nested::new(deserializer, &budget)))
}

/// The levels left, shared by every adapter of one decode.
struct Budget {
    max: usize,
    left: Cell<usize>,
    /// The stack address above which at least [`RED_ZONE`] bytes of the
    /// current stack are left (stacks grow down on every target fanout runs
    /// on): comparing with it is cheaper than asking stacker at each of the
    /// million elements of a `Vec`. `usize::MAX` until first asked.
    floor: Cell<usize>,
    /// The items not yet read nor promised to an open container.
    unpledged: Cell<usize>,
}

impl Budget {
    /// Runs `f` one level deeper, on a new stack if this one is low.
    #[inline]
    fn nest<R, E: de::Error>(&self, f: impl FnOnce() -> Result<R, E>) -> Result<R, E> {
        let left = self.left.get();
        if left == 0 {
            return Err(E::custom(format_args!(
                "the value nests deeper than {} levels",
                self.max
            )));
        }
        self.left.set(left - 1);
        let result = if stack_address() > self.floor.get() {
            f()
        } else {
            self.grow(f)
        };
        self.left.set(left);
        result
    }

    /// Runs `f` on a new stack if this one has less than [`RED_ZONE`] left,
    /// noting where that stack's red zone starts.
    #[cold]
    #[inline(never)]
    fn grow<R>(&self, f: impl FnOnce() -> R) -> R {
        let floor = self.floor.get();
        let result = stacker::maybe_grow(RED_ZONE, STACK_SIZE, || {
            let here = stack_address();
            self.floor.set(match stacker::remaining_stack() {
                Some(left) => here.saturating_sub(left.saturating_sub(RED_ZONE)),
                // Unknown bounds: ask stacker every time.
                None => usize::MAX,
            });
            f()
        });
        self.floor.set(floor);
        result
    }
}

impl Budget {
    /// A container's length hint, capped by the items not yet promised; the
    /// first call promises them to it (`granted` keeps how many are left).
    fn pledge(&self, granted: &Cell<Option<usize>>, hint: Option<usize>) -> Option<usize> {
        let hint = hint?;
        if let Some(left) = granted.get() {
            return Some(hint.min(left));
        }
        let grant = hint.min(self.unpledged.get());
        self.unpledged.set(self.unpledged.get() - grant);
        granted.set(Some(grant));
        Some(grant)
    }

    /// A container read an item: one of its promised ones, if any are left.
    /// More items than `max_items` cannot come from an honest payload (each
    /// takes a byte); counting them also bounds the time spent on an item
    /// type that reads nothing (a `Deserialize` that ignores its input) in a
    /// sequence that claims four billion of them.
    fn spend<E: de::Error>(&self, granted: &Cell<Option<usize>>) -> Result<(), E> {
        match granted.get() {
            Some(left) if left > 0 => granted.set(Some(left - 1)),
            _ => match self.unpledged.get().checked_sub(1) {
                Some(left) => self.unpledged.set(left),
                None => {
                    return Err(E::custom(
                        "the value has more items than its frame has bytes",
                    ));
                }
            },
        }
        Ok(())
    }
}

/// Roughly where the stack pointer is.
#[inline(always)]
fn stack_address() -> usize {
    let marker = 0u8;
    std::hint::black_box(&marker) as *const u8 as usize
}

/// A deserializer one level down.
struct Nested<'b, D> {
    de: D,
    budget: &'b Budget,
}

impl<'b, D> Nested<'b, D> {
    fn new(de: D, budget: &'b Budget) -> Self {
        Nested { de, budget }
    }
}

macro_rules! forward_deserialize {
    ($($method:ident)*) => {$(
        fn $method<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
            self.de.$method(Visitor::new(visitor, self.budget))
        }
    )*};
}

impl<'de, D: de::Deserializer<'de>> de::Deserializer<'de> for Nested<'_, D> {
    type Error = D::Error;

    forward_deserialize! {
        deserialize_any deserialize_bool
        deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64 deserialize_i128
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_u128
        deserialize_f32 deserialize_f64 deserialize_char deserialize_str deserialize_string
        deserialize_bytes deserialize_byte_buf deserialize_option deserialize_unit
        deserialize_seq deserialize_map deserialize_identifier deserialize_ignored_any
    }

    fn deserialize_unit_struct<V: de::Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.de
            .deserialize_unit_struct(name, Visitor::new(visitor, self.budget))
    }

    fn deserialize_newtype_struct<V: de::Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.de
            .deserialize_newtype_struct(name, Visitor::new(visitor, self.budget))
    }

    fn deserialize_tuple<V: de::Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.de
            .deserialize_tuple(len, Visitor::new(visitor, self.budget))
    }

    fn deserialize_tuple_struct<V: de::Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.de
            .deserialize_tuple_struct(name, len, Visitor::new(visitor, self.budget))
    }

    fn deserialize_struct<V: de::Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.de
            .deserialize_struct(name, fields, Visitor::new(visitor, self.budget))
    }

    fn deserialize_enum<V: de::Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.de
            .deserialize_enum(name, variants, Visitor::new(visitor, self.budget))
    }

    fn is_human_readable(&self) -> bool {
        self.de.is_human_readable()
    }
}

/// The value's visitor, handed containers whose contents come through here.
struct Visitor<'b, V> {
    delegate: V,
    budget: &'b Budget,
}

impl<'b, V> Visitor<'b, V> {
    fn new(delegate: V, budget: &'b Budget) -> Self {
        Visitor { delegate, budget }
    }
}

macro_rules! forward_visit {
    ($($method:ident($($ty:ty)?))*) => {$(
        fn $method<E: de::Error>(self $(, v: $ty)?) -> Result<Self::Value, E> {
            self.delegate.$method($(forward_visit!(@arg v $ty))?)
        }
    )*};
    (@arg $v:ident $ty:ty) => { $v };
}

impl<'de, V: de::Visitor<'de>> de::Visitor<'de> for Visitor<'_, V> {
    type Value = V::Value;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.delegate.expecting(formatter)
    }

    forward_visit! {
        visit_bool(bool)
        visit_i8(i8) visit_i16(i16) visit_i32(i32) visit_i64(i64) visit_i128(i128)
        visit_u8(u8) visit_u16(u16) visit_u32(u32) visit_u64(u64) visit_u128(u128)
        visit_f32(f32) visit_f64(f64) visit_char(char)
        visit_str(&str) visit_borrowed_str(&'de str) visit_string(String)
        visit_bytes(&[u8]) visit_borrowed_bytes(&'de [u8]) visit_byte_buf(Vec<u8>)
        visit_unit() visit_none()
    }

    fn visit_some<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<V::Value, D::Error> {
        let budget = self.budget;
        budget.nest(|| self.delegate.visit_some(Nested::new(deserializer, budget)))
    }

    fn visit_newtype_struct<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<V::Value, D::Error> {
        let budget = self.budget;
        budget.nest(|| {
            self.delegate
                .visit_newtype_struct(Nested::new(deserializer, budget))
        })
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        self.delegate.visit_seq(SeqAccess {
            delegate: seq,
            budget: self.budget,
            granted: Cell::new(None),
        })
    }

    fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.delegate.visit_map(MapAccess {
            delegate: map,
            budget: self.budget,
            granted: Cell::new(None),
        })
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
        self.delegate.visit_enum(EnumAccess {
            delegate: data,
            budget: self.budget,
        })
    }
}

/// A seed whose value is one level down.
struct Seed<'b, S> {
    delegate: S,
    budget: &'b Budget,
}

impl<'b, S> Seed<'b, S> {
    fn new(delegate: S, budget: &'b Budget) -> Self {
        Seed { delegate, budget }
    }
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Seed<'_, S> {
    type Value = S::Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<S::Value, D::Error> {
        let budget = self.budget;
        budget.nest(|| self.delegate.deserialize(Nested::new(deserializer, budget)))
    }
}

struct SeqAccess<'b, A> {
    delegate: A,
    budget: &'b Budget,
    granted: Cell<Option<usize>>,
}

impl<'de, A: de::SeqAccess<'de>> de::SeqAccess<'de> for SeqAccess<'_, A> {
    type Error = A::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, A::Error> {
        let element = self
            .delegate
            .next_element_seed(Seed::new(seed, self.budget))?;
        if element.is_some() {
            self.budget.spend(&self.granted)?;
        }
        Ok(element)
    }

    fn size_hint(&self) -> Option<usize> {
        self.budget.pledge(&self.granted, self.delegate.size_hint())
    }
}

struct MapAccess<'b, A> {
    delegate: A,
    budget: &'b Budget,
    granted: Cell<Option<usize>>,
}

impl<'de, A: de::MapAccess<'de>> de::MapAccess<'de> for MapAccess<'_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        let key = self.delegate.next_key_seed(Seed::new(seed, self.budget))?;
        if key.is_some() {
            self.budget.spend(&self.granted)?;
        }
        Ok(key)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        self.delegate.next_value_seed(Seed::new(seed, self.budget))
    }

    fn size_hint(&self) -> Option<usize> {
        self.budget.pledge(&self.granted, self.delegate.size_hint())
    }
}

struct EnumAccess<'b, A> {
    delegate: A,
    budget: &'b Budget,
}

impl<'b, 'de, A: de::EnumAccess<'de>> de::EnumAccess<'de> for EnumAccess<'b, A> {
    type Error = A::Error;
    type Variant = VariantAccess<'b, A::Variant>;

    fn variant_seed<S: DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<(S::Value, Self::Variant), A::Error> {
        let budget = self.budget;
        let (value, variant) = self.delegate.variant_seed(Seed::new(seed, budget))?;
        Ok((
            value,
            VariantAccess {
                delegate: variant,
                budget,
            },
        ))
    }
}

struct VariantAccess<'b, A> {
    delegate: A,
    budget: &'b Budget,
}

impl<'de, A: de::VariantAccess<'de>> de::VariantAccess<'de> for VariantAccess<'_, A> {
    type Error = A::Error;

    fn unit_variant(self) -> Result<(), A::Error> {
        self.delegate.unit_variant()
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, A::Error> {
        self.delegate
            .newtype_variant_seed(Seed::new(seed, self.budget))
    }

    fn tuple_variant<V: de::Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        self.delegate
            .tuple_variant(len, Visitor::new(visitor, self.budget))
    }

    fn struct_variant<V: de::Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        self.delegate
            .struct_variant(fields, Visitor::new(visitor, self.budget))
    }
}
