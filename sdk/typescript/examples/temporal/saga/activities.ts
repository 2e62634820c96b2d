import { ApplicationFailure } from '@temporalio/common';
import type { AccountRef } from './types';

/** The services the account opening talks to (the sample's bounded-context clients); `calls` records what ran. */
export function createActivities(calls: string[] = []) {
  const did = (what: string) => void calls.push(what);
  return {
    async createAccount({ accountId }: AccountRef): Promise<void> {
      did(`createAccount ${accountId}`);
    },
    async addAddress({ accountId }: AccountRef & { address: string }): Promise<void> {
      did(`addAddress ${accountId}`);
    },
    async clearPostalAddresses({ accountId }: AccountRef): Promise<void> {
      did(`clearPostalAddresses ${accountId}`);
    },
    async addClient({ accountId }: AccountRef & { clientEmail: string }): Promise<void> {
      did(`addClient ${accountId}`);
    },
    async removeClient({ accountId }: AccountRef): Promise<void> {
      did(`removeClient ${accountId}`);
    },
    async addBankAccount({ accountId, shouldThrow }: AccountRef & { details: unknown; shouldThrow?: string }): Promise<void> {
      did(`addBankAccount ${accountId}`);
      // the sample's banking client throws a plain Error, retried until the 8 s schedule-to-close
      // timeout; here it fails at once, so the test does not wait for the timeout
      if (shouldThrow) throw ApplicationFailure.nonRetryable(shouldThrow, 'BankError');
    },
    async disconnectBankAccounts({ accountId }: AccountRef): Promise<void> {
      did(`disconnectBankAccounts ${accountId}`);
    },
  };
}
