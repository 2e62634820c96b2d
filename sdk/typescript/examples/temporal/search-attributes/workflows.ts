import { SearchAttributes, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';

/** Reads, overwrites, deletes and adds search attributes; returns what it ends with. */
export async function example(): Promise<SearchAttributes> {
  const customInt = (workflowInfo().searchAttributes.CustomIntField?.[0] as number) || 0;
  upsertSearchAttributes({
    CustomIntField: [customInt + 1], // overwrite [2]
    CustomBoolField: [], // delete
    CustomDoubleField: [3.14], // add
  });
  return workflowInfo().searchAttributes;
}
