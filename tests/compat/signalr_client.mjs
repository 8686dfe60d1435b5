// Microsoft's SignalR client (@microsoft/signalr) against the simulator's hubs.
//
//   node signalr_client.mjs <module dir> <api url> <user hub> <market hub> <token>
//                           <account id> <contract id>
//
// Connects both hubs the way the Gateway's own JavaScript sample does, but
// negotiating first (skipNegotiation false): POST /negotiate, then WebSockets.
// Prints one JSON line per milestone ("QUOTE", then "ORDER" after placing an
// order over REST) and exits 0, or prints "FAIL ..." and exits 1; it gives up
// on its own after 30 s so a hang can never outlive the test.
import { createRequire } from "node:module";
import path from "node:path";

const [moduleDir, apiUrl, userHubUrl, marketHubUrl, token, accountId, contractId] =
  process.argv.slice(2);
const require = createRequire(path.join(moduleDir, "package.json"));
const signalR = require("@microsoft/signalr");

const deadline = setTimeout(() => {
  console.log("FAIL timed out");
  process.exit(1);
}, 30_000);

function connect(url) {
  return new signalR.HubConnectionBuilder()
    .withUrl(url, {
      accessTokenFactory: () => token,
      skipNegotiation: false,
      transport: signalR.HttpTransportType.WebSockets,
    })
    .configureLogging(signalR.LogLevel.Warning)
    .build();
}

function first(connection, target) {
  return new Promise((resolve) => connection.on(target, (...args) => resolve(args)));
}

try {
  const market = connect(marketHubUrl);
  const quote = first(market, "GatewayQuote");
  await market.start();
  await market.invoke("SubscribeContractQuotes", contractId);
  const [quotedContract, quoteData] = await quote;
  // connectionId is set only by a negotiate, never with skipNegotiation.
  console.log("QUOTE " + JSON.stringify({ contractId: quotedContract, quote: quoteData,
                                          connectionId: market.connectionId }));

  const user = connect(userHubUrl);
  const order = first(user, "GatewayUserOrder");
  await user.start();
  await user.invoke("SubscribeAccounts");
  await user.invoke("SubscribeOrders", Number(accountId));
  const placed = await fetch(`${apiUrl}/Order/place`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
    body: JSON.stringify({ accountId: Number(accountId), contractId, type: 1, side: 0, size: 1,
                           limitPrice: Math.floor(quoteData.bestBid) - 100 }),
  }).then((response) => response.json());
  const [orderEvent] = await order;
  console.log("ORDER " + JSON.stringify({ placed, event: orderEvent }));

  await Promise.all([market.stop(), user.stop()]);
  clearTimeout(deadline);
} catch (error) {
  console.log("FAIL " + (error && error.stack ? error.stack : String(error)));
  process.exit(1);
}
