/**
 * A custom payload converter (dataConverter.payloadConverterPath): Dates as
 * "json/date" payloads, so a Date stays a Date across the client, the
 * workflow sandbox and activities (Temporal's ejson sample does the same
 * with EJSON).  Loaded in the worker, the client and the sandbox.
 */
import {
  CompositePayloadConverter, JsonPayloadConverter, Payload, PayloadConverterWithEncoding, UndefinedPayloadConverter, str, u8s,
} from '../../src/common/payload';

class DatePayloadConverter implements PayloadConverterWithEncoding {
  readonly encodingType = 'json/date';
  toPayload<T>(v: T): Payload | undefined {
    if (Object.prototype.toString.call(v) !== '[object Date]') return undefined;
    return { metadata: { encoding: str(this.encodingType) }, data: str((v as unknown as Date).toISOString()) };
  }
  fromPayload<T>(p: Payload): T {
    return new Date(u8s(p.data)) as T;
  }
}

export const payloadConverter = new CompositePayloadConverter(
  new UndefinedPayloadConverter(), new DatePayloadConverter(), new JsonPayloadConverter());
