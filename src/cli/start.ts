import { configFrom, SETTINGS } from '../config.js'
import { startSidekey } from '../sidekey.js'
import { parse } from './args.js'

export const START_FLAGS = SETTINGS.filter((s) => s.flag !== '--report-only').map((s) => s.flag.slice(2))

/** `sidekey start`: run the proxy until SIGINT/SIGTERM; SIGHUP reloads policy. */
export async function start(argv: string[]): Promise<number> {
  const { flags } = parse(argv, START_FLAGS, ['report-only'])
  const config = configFrom(flags)
  const sidekey = await startSidekey(config)
  process.on('SIGHUP', () => void sidekey.policy.reload())
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      sidekey.log.info({ event: 'stopping' }, 'sidekey stopping')
      void sidekey.close().then(resolve)
    }
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
  })
  return 0
}
