/**
 * Start a few renewals and print their outcome:
 *   DATABASE_URL=... node dist/examples/subscription/starter.js alice invalid-bob noext-carol
 */
import { Client, WorkflowFailedError } from '../../src';
import { subscriptionRenewal } from './workflows';

async function main(): Promise<void> {
  const client = new Client({ connectionString: process.env.DATABASE_URL });
  const customers = process.argv.slice(2).length ? process.argv.slice(2) : ['alice', 'invalid-bob', 'noext-carol', 'declined-dave'];
  const handles = await Promise.all(customers.map((c) => client.workflow.start(subscriptionRenewal, {
    args: [c], taskQueue: process.env.TASK_QUEUE ?? 'subscriptions', workflowId: `renewal-${c}-${Date.now()}`,
  })));
  for (const h of handles) {
    try {
      await h.result();
      console.log(`${h.workflowId}: completed`);
    } catch (e) {
      if (e instanceof WorkflowFailedError) console.log(`${h.workflowId}: ${e.status}: ${e.cause?.message} (${(e.cause as any)?.cause?.type ?? ''})`);
      else throw e;
    }
  }
  await client.close();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
