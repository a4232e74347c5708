//! The typed syntax tree of a `where` expression: a list of clauses that must all hold.

/// One condition on the properties of an event or profile.
#[derive(Debug, Clone, PartialEq)]
pub enum Clause {
    /// `defined(properties["name"])`: the property is present and not null.
    Defined(String),
    /// `operand OP literal`.
    Compare { operand: Operand, op: Comparison, literal: Literal },
}

/// The value a comparison reads: a property, possibly converted first.
///
/// `properties[..]`, `user[..]` and `event[..]` all name the same properties of the row at hand,
/// so only the name is kept.
#[derive(Debug, Clone, PartialEq)]
pub struct Operand {
    pub property: String,
    pub cast: Cast,
}

/// The conversion wrapped around a property.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cast {
    /// The property as stored.
    None,
    /// `number(..)`.
    Number,
    /// `string(..)`.
    String,
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

/// A literal on the right of a comparison. `datetime(..)` arrives as [`Literal::Num`] seconds
/// since the Unix epoch.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Str(String),
    Num(f64),
    Bool(bool),
}
