/**
 * An update workflow written as a Temporal project writes it, importing
 * @temporalio/workflow (the shim): a validator, an async handler that runs
 * an activity, a query, and `await wf.condition(wf.allHandlersFinished)`
 * before returning (https://docs.temporal.io/develop/typescript/message-passing).
 */
import * as wf from '@temporalio/workflow';

const { translate } = wf.proxyActivities<{ translate(word: string, lang: string): Promise<string> }>({ startToCloseTimeout: '10s' });

export const setLanguage = wf.defineUpdate<string, [string]>('setLanguage');
export const greetingQuery = wf.defineQuery<string>('greeting');
export const approve = wf.defineSignal('approve');

export async function greetingWorkflow(): Promise<string> {
  let language = 'en';
  let greeting = 'hello';
  let approved = false;
  wf.setHandler(setLanguage, async (lang) => {
    const before = language;
    greeting = await translate('hello', lang);
    language = lang;
    return `${before} -> ${lang} (${wf.currentUpdateInfo()?.name})`;
  }, {
    validator: (lang) => {
      if (!['en', 'fr', 'de'].includes(lang)) throw new Error(`${lang} is not supported`);
    },
  });
  wf.setHandler(greetingQuery, () => greeting);
  wf.setHandler(approve, () => void (approved = true));
  await wf.condition(() => approved);
  await wf.condition(wf.allHandlersFinished);
  return `${greeting} (${language})`;
}
