import { execFile } from 'node:child_process'
import { mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { Ajv } from 'ajv'
import { parse, parseAllDocuments } from 'yaml'

/**
 * The Helm chart rendered without helm: values merged into values.yaml as Helm merges them, checked
 * against values.schema.json as Helm does, then the templates run by test/helm/render.go (Go's
 * text/template with sprig, the engine and function library Helm uses).
 */

const run = promisify(execFile)
const root = new URL('../../..', import.meta.url).pathname
export const CHART_DIR = join(root, 'helm', 'sidekey')

export type Obj = { apiVersion: string; kind: string; metadata: { name: string }; [k: string]: unknown }
export type Values = Record<string, unknown>

/** One rendering: the objects, the install notes, and a finder. */
export interface Rendered {
  readonly objects: Obj[]
  readonly notes: string
  byKind(kind: string, name?: string): Obj
}

/** Helm's values merge: maps merge deeply, anything else replaces, null deletes. */
export function mergeValues(base: Values, over: Values): Values {
  const out: Values = { ...base }
  for (const [k, v] of Object.entries(over)) {
    if (v === null) delete out[k]
    else if (typeof v === 'object' && !Array.isArray(v) && typeof out[k] === 'object' && out[k] !== null && !Array.isArray(out[k])) out[k] = mergeValues(out[k] as Values, v as Values)
    else out[k] = v
  }
  return out
}

/** Build the renderer once; the returned function renders the chart with `over` merged into its values. */
export async function chartRenderer(): Promise<(over: Values) => Promise<Rendered>> {
  const work = await mkdtemp(join(tmpdir(), 'sidekey-helm-'))
  const renderer = join(work, 'render')
  await run('go', ['build', '-o', renderer, join(root, 'test', 'helm', 'render.go')], { env: { ...process.env, GO111MODULE: 'off', GOPATH: '/usr/share/gocode', GOCACHE: join(tmpdir(), 'sidekey-go-cache') } })
  const defaults = parse(await readFile(join(CHART_DIR, 'values.yaml'), 'utf8')) as Values
  const validateValues = new Ajv({ allErrors: true, strict: false }).compile(JSON.parse(await readFile(join(CHART_DIR, 'values.schema.json'), 'utf8')) as object)
  let n = 0
  return async (over) => {
    const values = mergeValues(defaults, over)
    if (!validateValues(values)) throw new Error(`values.schema.json: ${JSON.stringify(validateValues.errors)}`)
    const file = join(work, `values-${n++}.json`)
    await writeFile(file, JSON.stringify(values))
    const { stdout } = await run(renderer, [CHART_DIR, file, 'demo', 'agents'])
    const out = JSON.parse(stdout) as Record<string, string>
    const objects: Obj[] = []
    for (const [name, text] of Object.entries(out)) {
      if (name.endsWith('NOTES.txt')) continue
      for (const doc of parseAllDocuments(text)) {
        if (doc.errors.length > 0) throw new Error(`${name}: ${doc.errors[0]!.message}`)
        const o = doc.toJS() as Obj | null
        if (o !== null) objects.push(o)
      }
    }
    return {
      objects,
      notes: out['sidekey/templates/NOTES.txt'] ?? '',
      byKind(kind, name) {
        const found = objects.find((o) => o.kind === kind && (name === undefined || o.metadata.name === name))
        if (found === undefined) throw new Error(`no ${kind} ${name ?? ''} rendered`)
        return found
      },
    }
  }
}

/** The pod template of a rendered Deployment. */
export type PodSpec = { initContainers?: Record<string, unknown>[]; containers: Record<string, unknown>[]; volumes: { name: string }[]; serviceAccountName: string }
export const podOf = (d: Obj): PodSpec => (d as unknown as { spec: { template: { spec: PodSpec } } }).spec.template.spec
