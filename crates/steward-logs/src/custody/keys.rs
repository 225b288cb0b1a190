//! Key changes: rotations, shreds, and adopting a shared key store's view.

use steward_core::CustomerId;

use super::{Custody, SealingShard, poisoned};
use crate::{
    KeyError, KeyVersion, Keyring, KeyringSnapshot, LogsError, MasterKey, Tombstone,
    audit::{AuditEvent, AuditStore, ChainedEntry},
};

impl<S: AuditStore> Custody<S> {
    /// Rotates the customer's data key; the next record sealed for them uses the new version.
    /// The new key is made durable first; the rotation is audited.
    ///
    /// # Errors
    ///
    /// As [`Keyring::rotate_data_key`]; [`KeyError::StoreUnavailable`] if the new key could
    /// not be made durable (nothing changed);
    /// [`AuditError::Unavailable`](crate::AuditError::Unavailable) if the entry could not be
    /// written (the rotation has then taken effect: it exposes nothing, and the next one is
    /// audited).
    pub fn rotate_data_key(&self, customer: CustomerId) -> Result<KeyVersion, LogsError> {
        let version = {
            let mut shard = self.shard(customer).lock().map_err(poisoned)?;
            // On a shared store, the next version is the one after the newest stored, which
            // another node may have issued.
            self.refresh_in_shard(&mut shard, customer)?;
            let version = self.issue_next_key(customer)?;
            shard.end_session(customer);
            version
        };
        self.audit_event(AuditEvent::DataKeyRotated { customer, version })?;
        Ok(version)
    }

    /// Rotates the master key (rewraps every data key; no record is re-encrypted): the
    /// rewraps are made durable, then the keyring switches. The rotation is audited.
    ///
    /// # Errors
    ///
    /// As [`Keyring::rotate_master_key`]; [`KeyError::StoreUnavailable`] if the rewraps
    /// could not be made durable (the old master key stays in use);
    /// [`AuditError::Unavailable`](crate::AuditError::Unavailable) as for
    /// [`rotate_data_key`](Self::rotate_data_key).
    pub fn rotate_master_key(&self, new: MasterKey) -> Result<(), LogsError> {
        let to = new.id().clone();
        {
            let mut keyring = self.keyring.write().map_err(poisoned)?;
            let prepared = keyring.prepare_master_rotation(new)?;
            let rewrapped: Vec<_> = prepared.rewrapped().cloned().collect();
            self.key_store
                .rewrap(&rewrapped)
                .map_err(|source| LogsError::Key(KeyError::StoreUnavailable { source }))?;
            keyring.commit_master_rotation(prepared);
        }
        self.audit_event(AuditEvent::MasterKeyRotated { to })?;
        Ok(())
    }

    /// Crypto-shreds the customer: audited first
    /// ([`AuditEvent::CustomerShreddedThrough`], naming the newest version destroyed), then
    /// the shred is made durable, then their data keys, sealing session and cached opening
    /// keys are destroyed in memory, and every later open of a record sealed before now fails
    /// with [`OpenError::Shredded`](crate::OpenError::Shredded). A customer who returns gets a fresh key generation on
    /// their next record (see docs/retention.md).
    ///
    /// # Errors
    ///
    /// [`AuditError::Unavailable`](crate::AuditError::Unavailable) if the entry could not be
    /// written (nothing was shredded then); [`KeyError::StoreUnavailable`] if the key store
    /// could not be read, or the shred not made durable after its entry: the keys are then
    /// still stored and held here, and the next custody opened on the store completes the
    /// shred ([`complete_pending_shreds`](Self::complete_pending_shreds)); a later shred
    /// repeats it sooner.
    pub fn shred(&self, customer: CustomerId) -> Result<(), LogsError> {
        // The trail is held from the entry to the end of the shred: no open can be decided
        // and audited between the shred's entry and the keys' destruction.
        let mut trail = self.trail.lock().map_err(poisoned)?;
        let mut shard = self.shard(customer).lock().map_err(poisoned)?;
        // On a shared store, the tombstone covers the newest stored version, which another
        // node may have issued.
        self.refresh_in_shard(&mut shard, customer)?;
        // The shard is held: no key of this customer is issued or adopted until the end.
        let tombstone = self
            .keyring
            .read()
            .map_err(poisoned)?
            .tombstone_for_shred(customer);
        trail.append(AuditEvent::CustomerShreddedThrough {
            customer,
            through: tombstone.through(),
        })?;
        self.destroy_keys(&mut shard, customer, tombstone)
    }

    /// Completes every shred that `entries` record but the key store does not: a shred entry
    /// whose customer has no tombstone, or one below the versions the entry names, because
    /// the process died (or the key store failed) between the entry and the deletion. Each
    /// completion is audited first ([`AuditEvent::ShredCompletedAtStartUp`]), then done as
    /// [`shred`](Self::shred) does. Returns the customers whose shred was completed, in the
    /// order of their entries.
    ///
    /// Call it once the trail's entries are verified and before the custody serves anything
    /// (steward-store's `open_vault` does): until then the records of such a customer would
    /// still open although the trail says they are shredded. `entries` are the trail's
    /// entries as read for that verification, oldest first; each shred entry among them is
    /// checked under the trail's key again, so only entries this key chained can shred.
    ///
    /// # Errors
    ///
    /// [`AuditError::ChainBroken`](crate::AuditError::ChainBroken) for a shred entry whose
    /// hash does not verify; otherwise as [`shred`](Self::shred). The custody must not serve
    /// then: open it again once the store is reachable.
    pub fn complete_pending_shreds(
        &self,
        entries: &[ChainedEntry],
    ) -> Result<Vec<CustomerId>, LogsError> {
        let mut trail = self.trail.lock().map_err(poisoned)?;
        // The tombstone each shredded customer's newest shred entry asks for.
        let mut requested: Vec<(CustomerId, Tombstone)> = Vec::new();
        for chained in entries {
            let Some((customer, tombstone)) = chained.entry().event().shred_request() else {
                continue;
            };
            trail.verify_entry(chained)?;
            match requested.iter_mut().find(|(owner, _)| *owner == customer) {
                Some((_, asked)) => *asked = (*asked).max(tombstone),
                None => requested.push((customer, tombstone)),
            }
        }
        let mut completed = Vec::new();
        for (customer, asked) in requested {
            let mut shard = self.shard(customer).lock().map_err(poisoned)?;
            self.refresh_in_shard(&mut shard, customer)?;
            let stored = self
                .keyring
                .read()
                .map_err(poisoned)?
                .shredded_through(customer);
            if stored.is_some_and(|stored| stored >= asked) {
                continue;
            }
            trail.append(AuditEvent::ShredCompletedAtStartUp {
                customer,
                through: asked.through(),
            })?;
            self.destroy_keys(&mut shard, customer, asked)?;
            completed.push(customer);
        }
        Ok(completed)
    }

    /// Adopts the key store's current view of the customer's keys, for a custody on a store
    /// shared with other nodes ([`KeyStore::customer_keys`](crate::KeyStore::customer_keys)): a shred made elsewhere ends this
    /// node's sealing session and cached opening keys, and a newer key version made elsewhere
    /// seals from the next record on. Sealing sessions and opens call this themselves; call it
    /// when the store refused a record sealed under a key another node shredded, then seal
    /// again. A no-op for a store with one custody.
    ///
    /// A store that keeps a [`KeyEpoch`](crate::KeyEpoch) is asked for it first: if it is the
    /// one read just before this method last read this customer's keys (and no other
    /// customer's of her shard since), no key of the store changed in between, and the keys
    /// are not read again. The epoch is read before the keys, so a change made between the
    /// two reads is seen at the next call.
    ///
    /// # Errors
    ///
    /// [`KeyError::StoreUnavailable`] if the store could not be read;
    /// [`KeyError::UnknownMasterKey`] if the stored keys are wrapped under a master key this
    /// custody does not hold.
    pub fn refresh_customer(&self, customer: CustomerId) -> Result<(), LogsError> {
        if !self.key_store.is_shared() {
            return Ok(());
        }
        let epoch = self
            .key_store
            .key_epoch()
            .map_err(|source| LogsError::Key(KeyError::StoreUnavailable { source }))?;
        let mut shard = self.shard(customer).lock().map_err(poisoned)?;
        if let Some(epoch) = epoch
            && shard.keys_read == Some((customer, epoch))
        {
            return Ok(());
        }
        self.refresh_in_shard(&mut shard, customer)?;
        shard.keys_read = epoch.map(|epoch| (customer, epoch));
        Ok(())
    }

    /// Destroys the customer's data keys, durably first (a tombstone at least `tombstone`),
    /// then in memory: keyring, sealing session and cached opening keys. The caller holds the
    /// trail (with the shred's entry written) and the customer's shard.
    fn destroy_keys(
        &self,
        shard: &mut SealingShard,
        customer: CustomerId,
        tombstone: Tombstone,
    ) -> Result<(), LogsError> {
        let mut keyring = self.keyring.write().map_err(poisoned)?;
        let tombstone = keyring.tombstone_for_shred(customer).max(tombstone);
        self.key_store
            .shred(customer, tombstone)
            .map_err(|source| LogsError::Key(KeyError::StoreUnavailable { source }))?;
        keyring.shred(customer);
        shard.forget(customer);
        // Purged while the keyring is held: a decryption that read the key before the shred
        // re-checks the keyring before caching its session or returning plaintext.
        self.opening
            .lock()
            .map_err(poisoned)?
            .retain(|_, session| session.customer != customer);
        Ok(())
    }

    /// Adopts the key store's view of the customer, ending their sealing session if it no
    /// longer seals under their newest live key.
    pub(super) fn refresh_in_shard(
        &self,
        shard: &mut SealingShard,
        customer: CustomerId,
    ) -> Result<(), LogsError> {
        if !self.key_store.is_shared() {
            return Ok(());
        }
        let Some(stored) = self
            .key_store
            .customer_keys(customer)
            .map_err(|source| LogsError::Key(KeyError::StoreUnavailable { source }))?
        else {
            return Ok(());
        };
        let mut keyring = self.keyring.write().map_err(poisoned)?;
        self.adopt(&mut keyring, customer, &stored)?;
        let current = keyring.current_version(customer);
        if shard
            .sessions
            .get(&customer)
            .is_some_and(|session| Some(session.version()) != current)
        {
            shard.end_session(customer);
        }
        Ok(())
    }

    /// Adopts a shared store's view of the customer; if it shredded keys held here, their
    /// cached opening sessions go too (under the keyring, as a local shred does).
    pub(super) fn adopt(
        &self,
        keyring: &mut Keyring,
        customer: CustomerId,
        stored: &KeyringSnapshot,
    ) -> Result<(), LogsError> {
        if keyring.adopt(customer, stored)? {
            self.opening
                .lock()
                .map_err(poisoned)?
                .retain(|_, session| session.customer != customer);
        }
        Ok(())
    }
}
