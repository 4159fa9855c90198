//! Events of CPU drivers. Command buffers on CPU execute in order (inline) or treat waits as
//! barriers, so an event carries no state of its own.

use std::any::Any;

use hal_core::{Event, EventImpl};

/// A local event.
#[derive(Debug, Default)]
pub struct LocalEvent;

impl LocalEvent {
    /// A hal-core handle for a new event.
    pub fn create() -> Event {
        Event::new(std::sync::Arc::new(LocalEvent))
    }
}

impl EventImpl for LocalEvent {
    fn as_any(&self) -> &dyn Any {
        self
    }
}
