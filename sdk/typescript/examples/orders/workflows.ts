/**
 * The orders example (issue 11): an `order` workflow filled by updates, whose
 * checkout starts one `shipment` child workflow per warehouse.
 * Workflow code: deterministic, no I/O; activities do the work.  Written as
 * Temporal's documentation shows updates and children:
 *   https://docs.temporal.io/develop/typescript/message-passing#updates
 *   https://docs.temporal.io/develop/typescript/child-workflows
 */
import {
  ApplicationFailure, ParentClosePolicy, allHandlersFinished, condition, defineQuery, defineUpdate, proxyActivities,
  setHandler, startChild, workflowInfo,
} from '../../src/workflow';
import type { Line, OrderActivities } from './activities';

export type { Line } from './activities';

const activities = proxyActivities<OrderActivities>({
  startToCloseTimeout: '10s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumAttempts: 3 },
});

export interface ShipmentResult {
  warehouse: string;
  units: number;
  trackingNumber: string;
}

/** The child: reserves the warehouse's lines, packs the parcel. */
export async function shipment(orderId: string, warehouse: string, lines: Line[]): Promise<ShipmentResult> {
  const units = await activities.reserveStock(warehouse, lines);
  const trackingNumber = await activities.packParcel(orderId, warehouse);
  return { warehouse, units, trackingNumber };
}

export interface OrderState {
  orderId: string;
  status: 'open' | 'shipping' | 'shipped';
  lines: Line[];
  totalCents: number;
  paymentId: string | null;
  shipments: ShipmentResult[];
}

/** addItem: adds a line; returns the number of lines.  Rejected for a bad quantity or once checked out. */
export const addItemUpdate = defineUpdate<number, [Line]>('addItem');
/** checkout: closes the order; returns its total in cents.  The shipments start after it. */
export const checkoutUpdate = defineUpdate<number, []>('checkout');
export const getOrderQuery = defineQuery<OrderState>('getOrder');

export async function order(orderId: string): Promise<OrderState> {
  const state: OrderState = { orderId, status: 'open', lines: [], totalCents: 0, paymentId: null, shipments: [] };

  setHandler(addItemUpdate, (line) => {
    state.lines.push(line);
    state.totalCents += line.quantity * line.priceCents;
    return state.lines.length;
  }, {
    validator: (line) => {
      if (state.status !== 'open') {
        throw ApplicationFailure.create({ message: `order ${orderId} is already checked out`, type: 'OrderClosed' });
      }
      if (!Number.isInteger(line?.quantity) || line.quantity < 1 || line.quantity > 100) {
        throw ApplicationFailure.create({ message: `quantity must be 1 to 100, not ${line?.quantity}`, type: 'BadQuantity' });
      }
    },
  });
  setHandler(checkoutUpdate, () => {
    state.status = 'shipping';
    return state.totalCents;
  }, {
    validator: () => {
      if (state.status !== 'open') throw ApplicationFailure.create({ message: `order ${orderId} is already checked out`, type: 'OrderClosed' });
      if (!state.lines.length) throw ApplicationFailure.create({ message: 'nothing to check out', type: 'EmptyOrder' });
    },
  });
  setHandler(getOrderQuery, () => state);

  await condition(() => state.status === 'shipping');
  state.paymentId = await activities.chargeOrder(orderId, state.totalCents);

  // one child per warehouse, all at once; if the order is closed (terminated, timed out) the
  // engine asks the shipments still open to cancel rather than abandoning them
  const byWarehouse = new Map<string, Line[]>();
  for (const l of state.lines) byWarehouse.set(l.warehouse, [...(byWarehouse.get(l.warehouse) ?? []), l]);
  const children = await Promise.all([...byWarehouse].map(([warehouse, lines]) => startChild(shipment, {
    workflowId: `${workflowInfo().workflowId}-ship-${warehouse}`,
    args: [orderId, warehouse, lines],
    parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
  })));
  state.shipments = await Promise.all(children.map((c) => c.result()));
  state.status = 'shipped';
  await condition(allHandlersFinished);
  return state;
}
