import { executeChild } from '@temporalio/workflow';

/** The child: greets by name. */
export async function childWorkflow(name: string): Promise<string> {
  return `I am a child named ${name}`;
}

/** The parent: one child per name, all at once, then their answers in order. */
export async function parentWorkflow(...names: string[]): Promise<string> {
  const answers = await Promise.all(names.map((name) => executeChild(childWorkflow, { args: [name] })));
  return answers.join('\n');
}
