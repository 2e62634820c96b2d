export interface OpenAccount {
  accountId: string;
  address: string;
  clientEmail: string;
  bankDetails: { routingNumber: string; accountNumber: string };
}
export interface AccountRef {
  accountId: string;
}
