//! Events: fine-grained dependencies between commands of one command buffer.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

/// What drivers implement for events.
pub trait EventImpl: Send + Sync + 'static {
    /// For drivers that downcast their own events.
    fn as_any(&self) -> &dyn Any;
}

/// A handle to an event: a fine-grained dependency inside command buffers.
#[derive(Clone)]
pub struct Event(Arc<dyn EventImpl>);

impl Event {
    /// Wraps a driver's event.
    pub fn new(inner: Arc<dyn EventImpl>) -> Event {
        Event(inner)
    }

    /// The driver's event.
    #[inline]
    pub fn inner(&self) -> &Arc<dyn EventImpl> {
        &self.0
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Event")
    }
}
