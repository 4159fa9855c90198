//! How a command buffer is created: its mode (one-shot, inline execution), the categories of
//! commands it may hold, and how many binding-table slots its commands may name.

use bitflags::bitflags;

use crate::status::{Result, Status};

bitflags! {
    /// How a command buffer will be used.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct CommandBufferMode: u32 {
        /// Submitted at most once.
        const ONE_SHOT = 1 << 0;
        /// The driver may execute commands while they are recorded (one-shot only).
        const ALLOW_INLINE_EXECUTION = 1 << 4;
    }
}

bitflags! {
    /// The kinds of commands a command buffer may hold.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct CommandCategory: u32 {
        /// Fill, update and copy.
        const TRANSFER = 1 << 0;
        /// Dispatch.
        const DISPATCH = 1 << 1;
        /// Everything.
        const ANY = Self::TRANSFER.bits() | Self::DISPATCH.bits();
    }
}

/// How to create a command buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommandBufferParams {
    /// One-shot or reusable, inline execution allowed or not.
    pub mode: CommandBufferMode,
    /// What commands it may hold.
    pub categories: CommandCategory,
    /// How many binding-table slots its commands may reference (0: direct references only).
    pub binding_capacity: u32,
}

impl CommandBufferParams {
    /// A one-shot buffer of any category that drivers may execute inline.
    pub fn one_shot_inline() -> CommandBufferParams {
        CommandBufferParams {
            mode: CommandBufferMode::ONE_SHOT | CommandBufferMode::ALLOW_INLINE_EXECUTION,
            categories: CommandCategory::ANY,
            binding_capacity: 0,
        }
    }

    /// A reusable buffer of any category with `binding_capacity` table slots.
    pub fn reusable(binding_capacity: u32) -> CommandBufferParams {
        CommandBufferParams {
            mode: CommandBufferMode::empty(),
            categories: CommandCategory::ANY,
            binding_capacity,
        }
    }

    /// Checks the combination of flags.
    pub fn validate(&self) -> Result<()> {
        if self
            .mode
            .contains(CommandBufferMode::ALLOW_INLINE_EXECUTION)
            && !self.mode.contains(CommandBufferMode::ONE_SHOT)
        {
            return Err(Status::invalid_argument(
                "inline execution is only allowed for one-shot command buffers",
            ));
        }
        if self.categories.is_empty() {
            return Err(Status::invalid_argument(
                "a command buffer needs at least one category",
            ));
        }
        Ok(())
    }
}
