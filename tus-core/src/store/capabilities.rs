/// What a store can do beyond the core operations.
///
/// The advertised `Tus-Extension` list follows from this, so a store that
/// lacks a capability never advertises the extension that needs it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Capabilities {
    termination: bool,
    deferred_length: bool,
    concatenation: bool,
    staged_append: bool,
    listing: bool,
}

impl Capabilities {
    /// No optional capability.
    pub const NONE: Self = Self {
        termination: false,
        deferred_length: false,
        concatenation: false,
        staged_append: false,
        listing: false,
    };

    /// Adds [`Store::terminate`](super::Store::terminate) support.
    pub const fn with_termination(mut self) -> Self {
        self.termination = true;
        self
    }

    /// Adds [`Store::declare_length`](super::Store::declare_length) support.
    pub const fn with_deferred_length(mut self) -> Self {
        self.deferred_length = true;
        self
    }

    /// Adds [`Store::concatenate`](super::Store::concatenate) support (partial and final uploads).
    pub const fn with_concatenation(mut self) -> Self {
        self.concatenation = true;
        self
    }

    /// Adds [`Store::append_staged`](super::Store::append_staged) support (checksums).
    pub const fn with_staged_append(mut self) -> Self {
        self.staged_append = true;
        self
    }

    /// Adds [`Store::list`](super::Store::list) support (the expiration reaper).
    pub const fn with_listing(mut self) -> Self {
        self.listing = true;
        self
    }

    /// Whether appends can be verified before they are kept.
    pub const fn staged_append(self) -> bool {
        self.staged_append
    }

    /// Whether the store can list its uploads.
    pub const fn listing(self) -> bool {
        self.listing
    }

    /// Whether uploads can be terminated.
    pub const fn termination(self) -> bool {
        self.termination
    }

    /// Whether the length can be declared after creation.
    pub const fn deferred_length(self) -> bool {
        self.deferred_length
    }

    /// Whether partial and final uploads can be concatenated.
    pub const fn concatenation(self) -> bool {
        self.concatenation
    }
}
