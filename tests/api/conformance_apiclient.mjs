// Drives Opendatasoft's official npm client (@opendatasoft/api-client) against a portal:
// node conformance_apiclient.mjs http://127.0.0.1:PORT < calls.json > answers.json
//
// Each call is {"name", "path": ["dataset", id, "records"] ..., "select", "where": [..],
// "groupBy", "orderBy", "limit", "offset", "refine": [..], "exclude": [..], "facet": [..],
// "lang", "timezone", "set": {name: value}, "raw": true (keep the body as text), "apiKey"}.
// Queries are built with the client's own builders (fromCatalog(), where(), refine()...) and
// sent with client.get(); the answer is {"name", "ok", "status", "data" | "text" | "error"}.
import pkg from '@opendatasoft/api-client';

const { ApiClient, fromCatalog, UserError } = pkg;

function target(path) {
    const [kind, id, what, extra] = path;
    const catalog = fromCatalog();
    if (kind === 'datasets') return catalog.datasets();
    if (kind === 'facets') return catalog.facets();
    if (kind === 'catalog_export') return catalog.export(id);
    const dataset = catalog.dataset(id);
    if (what === 'records') return dataset.records();
    if (what === 'record') return dataset.record(extra);
    if (what === 'facets') return dataset.facets();
    if (what === 'export') return dataset.export(extra);
    return dataset.itself();
}

function build(call) {
    let query = target(call.path);
    if (call.select) query = query.select(call.select);
    for (const where of call.where || []) query = query.append('where', where);
    if (call.groupBy) query = query.groupBy(call.groupBy);
    if (call.orderBy) query = query.orderBy(call.orderBy);
    if (call.limit !== undefined) query = query.limit(call.limit);
    if (call.offset !== undefined) query = query.offset(call.offset);
    for (const refine of call.refine || []) query = query.refine(refine);
    for (const exclude of call.exclude || []) query = query.exclude(exclude);
    for (const facet of call.facet || []) query = query.facet(facet);
    if (call.lang) query = query.lang(call.lang);
    if (call.timezone) query = query.timezone(call.timezone);
    for (const [name, value] of Object.entries(call.set || {})) query = query.set(name, value);
    return query;
}

async function run(client, call) {
    const query = build(call);
    const options = call.apiKey ? { apiKey: call.apiKey } : {};
    if (call.raw) {
        options.interceptResponse = async (response) => ({
            status: response.status,
            headers: Object.fromEntries(response.headers.entries()),
            text: Buffer.from(await response.arrayBuffer()).toString('base64'),
        });
    }
    try {
        const data = await client.get(query, options);
        if (call.raw) return { name: call.name, ok: data.status < 400, ...data, url: query.toString() };
        return { name: call.name, ok: true, status: 200, data, url: query.toString() };
    } catch (error) {
        const status = error.response ? error.response.status : 0;
        return {
            name: call.name, ok: false, status, url: query.toString(),
            userError: error instanceof UserError, error: error.details ?? String(error),
        };
    }
}

async function main() {
    const domain = process.argv[2];
    const chunks = [];
    for await (const chunk of process.stdin) chunks.push(chunk);
    const calls = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    const client = new ApiClient({ domain, hideDeprecatedWarning: true });
    const answers = [];
    for (const call of calls) answers.push(await run(client, call));
    process.stdout.write(JSON.stringify(answers));
}

main().catch((error) => {
    process.stderr.write(String(error && error.stack ? error.stack : error));
    process.exit(1);
});
