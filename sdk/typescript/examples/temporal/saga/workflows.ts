import { ApplicationFailure, proxyActivities, proxySinks, Sinks, TemporalFailure } from '@temporalio/workflow';
import type { createActivities } from './activities';
import type { OpenAccount } from './types';

const defaultActivity = { startToCloseTimeout: '2s', scheduleToCloseTimeout: '3s' };
const longRunningActivity = { startToCloseTimeout: '4s', scheduleToCloseTimeout: '8s' };

const { addBankAccount } = proxyActivities<ReturnType<typeof createActivities>>(longRunningActivity);
const { createAccount, addClient, removeClient, addAddress, clearPostalAddresses, disconnectBankAccounts } =
  proxyActivities<ReturnType<typeof createActivities>>(defaultActivity);

export interface LoggerSinks extends Sinks {
  logger: {
    info(message: string): void;
    err(message: string): void;
  };
}

const { logger } = proxySinks<LoggerSinks>();

interface Compensation {
  message: string;
  fn: () => Promise<void>;
}

/** Opens an account in steps; when a step fails, undoes the steps done so far, last first. */
export async function openAccount(params: OpenAccount): Promise<void> {
  const compensations: Compensation[] = [];
  try {
    await createAccount({ accountId: params.accountId });
  } catch (err) {
    logger.err('creating account failed. stopping.');
    throw err; // nothing to undo yet
  }
  try {
    await addAddress({ accountId: params.accountId, address: params.address });
    compensations.unshift({ message: prettyErrorMessage('reversing add address'), fn: () => clearPostalAddresses({ accountId: params.accountId }) });

    await addClient({ accountId: params.accountId, clientEmail: params.clientEmail });
    compensations.unshift({ message: prettyErrorMessage('reversing add client'), fn: () => removeClient({ accountId: params.accountId }) });

    await addBankAccount({ accountId: params.accountId, details: params.bankDetails, shouldThrow: prettyErrorMessage('add bank account failed') });
    compensations.unshift({ message: prettyErrorMessage('reversing add bank account'), fn: () => disconnectBankAccounts({ accountId: params.accountId }) });
  } catch (err) {
    if (err instanceof TemporalFailure && err.cause instanceof ApplicationFailure) {
      logger.err(err.cause.message);
    } else {
      logger.err('error while opening account');
    }
    await compensate(compensations);
    throw err;
  }
}

async function compensate(compensations: Compensation[] = []) {
  if (compensations.length > 0) {
    logger.info('failures encountered during account opening - compensating');
    for (const comp of compensations) {
      try {
        logger.err(comp.message);
        await comp.fn();
      } catch (err) {
        logger.err(`failed to compensate: ${prettyErrorMessage('', err)}`);
      }
    }
  }
}

function prettyErrorMessage(message: string, err?: any) {
  let errMessage = '';
  if (err && err instanceof TemporalFailure) errMessage = `${err.cause?.message}`;
  if (err && err instanceof Error) errMessage = err.message;
  return `${message}: ${errMessage}`;
}
