
use builtin;
use str;

set edit:completion:arg-completer[agentlocator] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'agentlocator'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'agentlocator'= {
            cand --config 'Configuration file [default: config/agentlocator.toml when it exists]'
            cand --data-dir 'Where the database, secrets and tenant data live'
            cand --log-format 'Log format (logs go to stderr)'
            cand -v 'More logging (-v debug, -vv trace); RUST_LOG overrides'
            cand --verbose 'More logging (-v debug, -vv trace); RUST_LOG overrides'
            cand -q 'Less logging (-q warnings, -qq errors only)'
            cand --quiet 'Less logging (-q warnings, -qq errors only)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand serve 'Run the daemon: HTTP service, WhatsApp supervisor, admin socket'
            cand config 'Inspect the configuration'
            cand tenant 'Manage tenants (businesses)'
            cand check 'Checks against a deployment'
            cand sessions 'One row per tenant WhatsApp worker: state, phone, since, reconnects, last error, memory'
            cand events 'Inspect, replay and retry the events delivered to tenants'' backends'
            cand db 'The store: schema version'
            cand cluster 'The nodes sharing the PostgreSQL store'
            cand completions 'Print a shell completion script'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'agentlocator;serve'= {
            cand --config 'Configuration file [default: config/agentlocator.toml when it exists]'
            cand --data-dir 'Where the database, secrets and tenant data live'
            cand --log-format 'Log format (logs go to stderr)'
            cand -v 'More logging (-v debug, -vv trace); RUST_LOG overrides'
            cand --verbose 'More logging (-v debug, -vv trace); RUST_LOG overrides'
            cand -q 'Less logging (-q warnings, -qq errors only)'
            cand --quiet 'Less logging (-q warnings, -qq errors only)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'agentlocator;config'= {
            cand --config 'Configuration file [default: config/agentlocator.toml when it exists]'
            cand --data-dir 'Where the database, secrets and tenant data live'
            cand --log-format 'Log format (logs go to stderr)'
            cand -v 'More logging (-v debug, -vv trace); RUST_LOG overrides'
            cand --verbose 'More logging (-v debug, -vv trace); RUST_LOG overrides'
            cand -q 'Less logging (-q warnings, -qq errors only)'
            cand --quiet 'Less logging (-q warnings, -qq errors only)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand check 'Validate the effective configuration and print it, secrets redacted'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'agentlocator;config;check'= {
            cand --config 'Configuration file [default: config/agentlocator.toml when it exists]'
            cand --data-dir 'Where the database, secrets and tenant data live'
            cand --log-format 'Log format (logs go to stderr)'
            cand --json 'Print JSON instead of TOML'
            cand -v 'More logging (-v debug, -vv trace); RUST_LOG overrides'
            cand --verbose 'More logging (-v debug, -vv trace); RUST_LOG overrides'
            cand -q 'Less logging (-q warnings, -qq errors only)'
            cand --quiet 'Less logging (-q warnings, -qq errors only)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'agentlocator;config;help'= {
            cand check 'Validate the effective configuration and print it, secrets redacted'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'agentlocator;config;help;check'= {
        }
        &'agentlocator;config;help;help'= {
        }
        &'agentlocator;tenant'= {
            cand --config 'Configuration file [default: config/agentlocator.toml when it exists]'
            cand --data-dir 'Where the database, secrets and tenant data live'
            cand --log-format 'Log format (logs go to stderr)'
            cand -v 'More logging (-v debug, -vv trace); RUST_LOG overrides'
            cand --verbose 'More logging (-v debug, -vv trace); RUST_LOG overrides'
            cand -q 'Less logging (-q warnings, -qq errors only)'
            cand --quiet 'Less logging (-q warnings, -qq errors only)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand add 'Create a tenant; prints its API token and webhook signing secret once'
            cand list 'One line per tenant'
            cand show 'Everything about one tenant (secrets redacted)'
            cand set 'Change a tenant''s settings (an empty value clears an optional one)'
            cand token 'Issue a new API token; the old one stops working at once'
            cand signing-secret 'Issue a new webhook signing secret (shown once); the old one keeps signing for --grace'
            cand pair 'Pair the tenant''s WhatsApp: QR codes in the terminal, or a pair code with --phone'
            cand logout 'Unlink the tenant''s WhatsApp device and wipe its session store'
            cand remove 'Delete a tenant and all its data'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'agentlocator;tenant;add'= {
            cand --name 'Display name [default on add: the id]'
            cand --webhook-url 'Where this tenant''s events are POSTed'
            cand --twilio-number 'A Twilio number (+E164) routed to this tenant; repeat for more. On `set`, replaces the tenant''s list'
            cand --twilio-auth-token 'This tenant''s own Twilio auth token (else the global one is used)'
            cand --twilio-account-sid 'The Twilio account (AC...) of this tenant''s own auth token: recordings are fetched only for webhooks of that account. Empty on `set` clears it'
            cand --voice-twiml 'TwiML answered to this tenant''s voice calls, or @FILE to read it from a file; `{{recording_status_callback}}` and `{{tenant}}` are filled in. Empty on `set` restores the default (greeting + record)'
            cand --config 'Configuration file [default: config/agentlocator.toml when it exists]'
            cand --data-dir 'Where the database, secrets and tenant data live'
            cand --log-format 'Log format (logs go to stderr)'
            cand --json 'json'
            cand -v 'More logging (-v debug, -vv trace); RUST_LOG overrides'
            cand --verbose 'More logging (-v debug, -vv trace); RUST_LOG overrides'
            cand -q 'Less logging (-q warnings, -qq errors only)'
            cand --quiet 'Less logging (-q warnings, -qq errors only)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'agentlocator;tenant;list'= {
            cand --config 'Configuration file [default: config/agentlocator.toml when it exists]'
            cand --data-dir 'Where the database, secrets and tenant data live'
            cand --log-format 'Log format (logs go to stderr)'
            cand --json 'json'
            cand -v 'More logging (-v debug, -vv trace); RUST_LOG overrides'
            cand --verbose 'More logging (-v debug, -vv trace); RUST_LOG overrides'
            cand -q 'Less logging (-q warnings, -qq errors only)'
            cand --quiet 'Less logging (-q warnings, -qq errors only)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'agentlocator;tenant;show'= {
            cand --config 'Configuration file [default: config/agentlocator.toml when it exists]'
            cand --data-dir 'Where the database, secrets and tenant data live'
            cand --log-format 'Log format (logs go to stderr)'
            cand --json 'json'
            cand -v 'More logging (-v debug, -vv trace); RUST_LOG overrides'
            cand --verbose 'More logging (-v debug, -vv trace); RUST_LOG overrides'
            cand -q 'Less logging (-q warnings, -qq errors only)'
            cand --quiet 'Less logging (-q warnings, -qq errors only)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'agentlocator;tenant;set'= {
            cand --name 'Display name [default on add: the id]'
            cand --webhook-url 'Where this tenant''s events are POSTed'
            cand --twilio-number 'A Twilio number (+E164) routed to this tenant; repeat for more. On `set`, replaces the tenant''s list'
            cand --twilio-auth-token 'This tenant''s own Twilio auth token (else the global one is used)'
            cand --twilio-account-sid 'The Twilio account (AC...) of this tenant''s own auth token: recordings are fetched only for webhooks of that account. Empty on `set` clears it'
            cand --voice-twiml 'TwiML answered to this tenant''s voice calls, or @FILE to read it from a file; `{{recording_status_callback}}` and `{{tenant}}` are filled in. Empty on `set` restores the default (greeting + record)'
            cand --config 'Configuration file [default: config/agentlocator.toml when it exists]'
            cand --data-dir 'Where the database, secrets and tenant data live'
            cand --log-format 'Log format (logs go to stderr)'
            cand --json 'json'
            cand -v 'More logging (-v debug, -vv trace); RUST_LOG overrides'
            cand --verbose 'More logging (-v debug, -vv trace); RUST_LOG overrides'
            cand -q 'Less logging (-q warnings, -qq errors only)'
            cand --quiet 'Less logging (-q warnings, -qq errors only)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'agentlocator;tenant;token'= {
            cand --config 'Configuration file [default: config/agentlocator.toml when it exists]'
            cand --data-dir 'Where the database, secrets and tenant data live'
            cand --log-format 'Log format (logs go to stderr)'
            cand --rotate 'Required: rotation is the only token operation'
            cand --json 'json'
            cand -v 'More logging (-v debug, -vv trace); RUST_LOG overrides'
            cand --verbose 'More logging (-v debug, -vv trace); RUST_LOG overrides'
            cand -q 'Less logging (-q warnings, -qq errors only)'
            cand --quiet 'Less logging (-q warnings, -qq errors only)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'agentlocator;tenant;signing-secret'= {
            cand --grace 'How long the old secret keeps signing too (e.g. 90m, 24h; 0s: it stops at once)'
            cand --config 'Configuration file [default: config/agentlocator.toml when it exists]'
            cand --data-dir 'Where the database, secrets and tenant data live'
            cand --log-format 'Log format (logs go to stderr)'
            cand --rotate 'Required: the current secret is never shown again, only replaced'
            cand --json 'json'
            cand -v 'More logging (-v debug, -vv trace); RUST_LOG overrides'
            cand --verbose 'More logging (-v debug, -vv trace); RUST_LOG overrides'
            cand -q 'Less logging (-q warnings, -qq errors only)'
            cand --quiet 'Less logging (-q warnings, -qq errors only)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'agentlocator;tenant;pair'= {
            cand --phone 'Pair by phone-number code for this number instead of by QR'
            cand --timeout 'Give up after this many seconds'
            cand --config 'Configuration file [default: config/agentlocator.toml when it exists]'
            cand --data-dir 'Where the database, secrets and tenant data live'
            cand --log-format 'Log format (logs go to stderr)'
            cand -v 'More logging (-v debug, -vv trace); RUST_LOG overrides'
            cand --verbose 'More logging (-v debug, -vv trace); RUST_LOG overrides'
            cand -q 'Less logging (-q warnings, -qq errors only)'
            cand --quiet 'Less logging (-q warnings, -qq errors only)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'agentlocator;tenant;logout'= {
            cand --config 'Configuration file [default: config/agentlocator.toml when it exists]'
            cand --data-dir 'Where the database, secrets and tenant data live'
            cand --log-format 'Log format (logs go to stderr)'
            cand --json 'json'
            cand -v 'More logging (-v debug, -vv trace); RUST_LOG overrides'
            cand --verbose 'More logging (-v debug, -vv trace); RUST_LOG overrides'
            cand -q 'Less logging (-q warnings, -qq errors only)'
            cand --quiet 'Less logging (-q warnings, -qq errors only)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'agentlocator;tenant;remove'= {
            cand --config 'Configuration file [default: config/agentlocator.toml when it exists]'
            cand --data-dir 'Where the database, secrets and tenant data live'
            cand --log-format 'Log format (logs go to stderr)'
            cand --yes 'Confirm the deletion'
            cand --json 'json'
            cand -v 'More logging (-v debug, -vv trace); RUST_LOG overrides'
            cand --verbose 'More logging (-v debug, -vv trace); RUST_LOG overrides'
            cand -q 'Less logging (-q warnings, -qq errors only)'
            cand --quiet 'Less logging (-q warnings, -qq errors only)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'agentlocator;tenant;help'= {
            cand add 'Create a tenant; prints its API token and webhook signing secret once'
            cand list 'One line per tenant'
            cand show 'Everything about one tenant (secrets redacted)'
            cand set 'Change a tenant''s settings (an empty value clears an optional one)'
            cand token 'Issue a new API token; the old one stops working at once'
            cand signing-secret 'Issue a new webhook signing secret (shown once); the old one keeps signing for --grace'
            cand pair 'Pair the tenant''s WhatsApp: QR codes in the terminal, or a pair code with --phone'
            cand logout 'Unlink the tenant''s WhatsApp device and wipe its session store'
            cand remove 'Delete a tenant and all its data'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'agentlocator;tenant;help;add'= {
        }
        &'agentlocator;tenant;help;list'= {
        }
        &'agentlocator;tenant;help;show'= {
        }
        &'agentlocator;tenant;help;set'= {
        }
        &'agentlocator;tenant;help;token'= {
        }
        &'agentlocator;tenant;help;signing-secret'= {
        }
        &'agentlocator;tenant;help;pair'= {
        }
        &'agentlocator;tenant;help;logout'= {
        }
        &'agentlocator;tenant;help;remove'= {
        }
        &'agentlocator;tenant;help;help'= {
        }
        &'agentlocator;check'= {
            cand --config 'Configuration file [default: config/agentlocator.toml when it exists]'
            cand --data-dir 'Where the database, secrets and tenant data live'
            cand --log-format 'Log format (logs go to stderr)'
            cand -v 'More logging (-v debug, -vv trace); RUST_LOG overrides'
            cand --verbose 'More logging (-v debug, -vv trace); RUST_LOG overrides'
            cand -q 'Less logging (-q warnings, -qq errors only)'
            cand --quiet 'Less logging (-q warnings, -qq errors only)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand go 'The four GO checks: /healthz, /version, /healthz/whatsapp, /readyz'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'agentlocator;check;go'= {
            cand --url 'Base URL of the deployment [default: the configured http.listen]'
            cand --format 'format'
            cand --junit 'Also write a JUnit XML report here'
            cand --timeout 'Seconds each check may take'
            cand --config 'Configuration file [default: config/agentlocator.toml when it exists]'
            cand --data-dir 'Where the database, secrets and tenant data live'
            cand --log-format 'Log format (logs go to stderr)'
            cand -v 'More logging (-v debug, -vv trace); RUST_LOG overrides'
            cand --verbose 'More logging (-v debug, -vv trace); RUST_LOG overrides'
            cand -q 'Less logging (-q warnings, -qq errors only)'
            cand --quiet 'Less logging (-q warnings, -qq errors only)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'agentlocator;check;help'= {
            cand go 'The four GO checks: /healthz, /version, /healthz/whatsapp, /readyz'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'agentlocator;check;help;go'= {
        }
        &'agentlocator;check;help;help'= {
        }
        &'agentlocator;sessions'= {
            cand --config 'Configuration file [default: config/agentlocator.toml when it exists]'
            cand --data-dir 'Where the database, secrets and tenant data live'
            cand --log-format 'Log format (logs go to stderr)'
            cand --json 'json'
            cand --watch 'Refresh every 2 seconds until interrupted (with --json: one document per line)'
            cand -v 'More logging (-v debug, -vv trace); RUST_LOG overrides'
            cand --verbose 'More logging (-v debug, -vv trace); RUST_LOG overrides'
            cand -q 'Less logging (-q warnings, -qq errors only)'
            cand --quiet 'Less logging (-q warnings, -qq errors only)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'agentlocator;events'= {
            cand --config 'Configuration file [default: config/agentlocator.toml when it exists]'
            cand --data-dir 'Where the database, secrets and tenant data live'
            cand --log-format 'Log format (logs go to stderr)'
            cand -v 'More logging (-v debug, -vv trace); RUST_LOG overrides'
            cand --verbose 'More logging (-v debug, -vv trace); RUST_LOG overrides'
            cand -q 'Less logging (-q warnings, -qq errors only)'
            cand --quiet 'Less logging (-q warnings, -qq errors only)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand list 'The most recent events, oldest first'
            cand show 'One event, its data and every delivery attempt'
            cand replay 'Queue events again for delivery, keeping their ids (any state but held)'
            cand retry-dead 'Queue every dead event again (of one tenant, or of all)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'agentlocator;events;list'= {
            cand --tenant 'Only this tenant''s events'
            cand --status 'Only events in this state'
            cand --limit 'How many events at most (the most recent ones)'
            cand --config 'Configuration file [default: config/agentlocator.toml when it exists]'
            cand --data-dir 'Where the database, secrets and tenant data live'
            cand --log-format 'Log format (logs go to stderr)'
            cand --json 'json'
            cand -v 'More logging (-v debug, -vv trace); RUST_LOG overrides'
            cand --verbose 'More logging (-v debug, -vv trace); RUST_LOG overrides'
            cand -q 'Less logging (-q warnings, -qq errors only)'
            cand --quiet 'Less logging (-q warnings, -qq errors only)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'agentlocator;events;show'= {
            cand --config 'Configuration file [default: config/agentlocator.toml when it exists]'
            cand --data-dir 'Where the database, secrets and tenant data live'
            cand --log-format 'Log format (logs go to stderr)'
            cand --json 'json'
            cand -v 'More logging (-v debug, -vv trace); RUST_LOG overrides'
            cand --verbose 'More logging (-v debug, -vv trace); RUST_LOG overrides'
            cand -q 'Less logging (-q warnings, -qq errors only)'
            cand --quiet 'Less logging (-q warnings, -qq errors only)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'agentlocator;events;replay'= {
            cand --config 'Configuration file [default: config/agentlocator.toml when it exists]'
            cand --data-dir 'Where the database, secrets and tenant data live'
            cand --log-format 'Log format (logs go to stderr)'
            cand --json 'json'
            cand -v 'More logging (-v debug, -vv trace); RUST_LOG overrides'
            cand --verbose 'More logging (-v debug, -vv trace); RUST_LOG overrides'
            cand -q 'Less logging (-q warnings, -qq errors only)'
            cand --quiet 'Less logging (-q warnings, -qq errors only)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'agentlocator;events;retry-dead'= {
            cand --tenant 'tenant'
            cand --config 'Configuration file [default: config/agentlocator.toml when it exists]'
            cand --data-dir 'Where the database, secrets and tenant data live'
            cand --log-format 'Log format (logs go to stderr)'
            cand --json 'json'
            cand -v 'More logging (-v debug, -vv trace); RUST_LOG overrides'
            cand --verbose 'More logging (-v debug, -vv trace); RUST_LOG overrides'
            cand -q 'Less logging (-q warnings, -qq errors only)'
            cand --quiet 'Less logging (-q warnings, -qq errors only)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'agentlocator;events;help'= {
            cand list 'The most recent events, oldest first'
            cand show 'One event, its data and every delivery attempt'
            cand replay 'Queue events again for delivery, keeping their ids (any state but held)'
            cand retry-dead 'Queue every dead event again (of one tenant, or of all)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'agentlocator;events;help;list'= {
        }
        &'agentlocator;events;help;show'= {
        }
        &'agentlocator;events;help;replay'= {
        }
        &'agentlocator;events;help;retry-dead'= {
        }
        &'agentlocator;events;help;help'= {
        }
        &'agentlocator;db'= {
            cand --config 'Configuration file [default: config/agentlocator.toml when it exists]'
            cand --data-dir 'Where the database, secrets and tenant data live'
            cand --log-format 'Log format (logs go to stderr)'
            cand -v 'More logging (-v debug, -vv trace); RUST_LOG overrides'
            cand --verbose 'More logging (-v debug, -vv trace); RUST_LOG overrides'
            cand -q 'Less logging (-q warnings, -qq errors only)'
            cand --quiet 'Less logging (-q warnings, -qq errors only)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand status 'Which store the configuration names and its schema version'
            cand copy 'Copy a stopped SQLite deployment into an empty PostgreSQL database'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'agentlocator;db;status'= {
            cand --config 'Configuration file [default: config/agentlocator.toml when it exists]'
            cand --data-dir 'Where the database, secrets and tenant data live'
            cand --log-format 'Log format (logs go to stderr)'
            cand --json 'json'
            cand -v 'More logging (-v debug, -vv trace); RUST_LOG overrides'
            cand --verbose 'More logging (-v debug, -vv trace); RUST_LOG overrides'
            cand -q 'Less logging (-q warnings, -qq errors only)'
            cand --quiet 'Less logging (-q warnings, -qq errors only)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'agentlocator;db;copy'= {
            cand --to 'The target database (postgres://...); it must be empty'
            cand --config 'Configuration file [default: config/agentlocator.toml when it exists]'
            cand --data-dir 'Where the database, secrets and tenant data live'
            cand --log-format 'Log format (logs go to stderr)'
            cand --json 'json'
            cand -v 'More logging (-v debug, -vv trace); RUST_LOG overrides'
            cand --verbose 'More logging (-v debug, -vv trace); RUST_LOG overrides'
            cand -q 'Less logging (-q warnings, -qq errors only)'
            cand --quiet 'Less logging (-q warnings, -qq errors only)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'agentlocator;db;help'= {
            cand status 'Which store the configuration names and its schema version'
            cand copy 'Copy a stopped SQLite deployment into an empty PostgreSQL database'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'agentlocator;db;help;status'= {
        }
        &'agentlocator;db;help;copy'= {
        }
        &'agentlocator;db;help;help'= {
        }
        &'agentlocator;cluster'= {
            cand --config 'Configuration file [default: config/agentlocator.toml when it exists]'
            cand --data-dir 'Where the database, secrets and tenant data live'
            cand --log-format 'Log format (logs go to stderr)'
            cand -v 'More logging (-v debug, -vv trace); RUST_LOG overrides'
            cand --verbose 'More logging (-v debug, -vv trace); RUST_LOG overrides'
            cand -q 'Less logging (-q warnings, -qq errors only)'
            cand --quiet 'Less logging (-q warnings, -qq errors only)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand status 'The nodes sharing the database: address, version, last heartbeat, tenants held, alive'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'agentlocator;cluster;status'= {
            cand --config 'Configuration file [default: config/agentlocator.toml when it exists]'
            cand --data-dir 'Where the database, secrets and tenant data live'
            cand --log-format 'Log format (logs go to stderr)'
            cand --json 'json'
            cand -v 'More logging (-v debug, -vv trace); RUST_LOG overrides'
            cand --verbose 'More logging (-v debug, -vv trace); RUST_LOG overrides'
            cand -q 'Less logging (-q warnings, -qq errors only)'
            cand --quiet 'Less logging (-q warnings, -qq errors only)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'agentlocator;cluster;help'= {
            cand status 'The nodes sharing the database: address, version, last heartbeat, tenants held, alive'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'agentlocator;cluster;help;status'= {
        }
        &'agentlocator;cluster;help;help'= {
        }
        &'agentlocator;completions'= {
            cand --config 'Configuration file [default: config/agentlocator.toml when it exists]'
            cand --data-dir 'Where the database, secrets and tenant data live'
            cand --log-format 'Log format (logs go to stderr)'
            cand -v 'More logging (-v debug, -vv trace); RUST_LOG overrides'
            cand --verbose 'More logging (-v debug, -vv trace); RUST_LOG overrides'
            cand -q 'Less logging (-q warnings, -qq errors only)'
            cand --quiet 'Less logging (-q warnings, -qq errors only)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'agentlocator;help'= {
            cand serve 'Run the daemon: HTTP service, WhatsApp supervisor, admin socket'
            cand config 'Inspect the configuration'
            cand tenant 'Manage tenants (businesses)'
            cand check 'Checks against a deployment'
            cand sessions 'One row per tenant WhatsApp worker: state, phone, since, reconnects, last error, memory'
            cand events 'Inspect, replay and retry the events delivered to tenants'' backends'
            cand db 'The store: schema version'
            cand cluster 'The nodes sharing the PostgreSQL store'
            cand completions 'Print a shell completion script'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'agentlocator;help;serve'= {
        }
        &'agentlocator;help;config'= {
            cand check 'Validate the effective configuration and print it, secrets redacted'
        }
        &'agentlocator;help;config;check'= {
        }
        &'agentlocator;help;tenant'= {
            cand add 'Create a tenant; prints its API token and webhook signing secret once'
            cand list 'One line per tenant'
            cand show 'Everything about one tenant (secrets redacted)'
            cand set 'Change a tenant''s settings (an empty value clears an optional one)'
            cand token 'Issue a new API token; the old one stops working at once'
            cand signing-secret 'Issue a new webhook signing secret (shown once); the old one keeps signing for --grace'
            cand pair 'Pair the tenant''s WhatsApp: QR codes in the terminal, or a pair code with --phone'
            cand logout 'Unlink the tenant''s WhatsApp device and wipe its session store'
            cand remove 'Delete a tenant and all its data'
        }
        &'agentlocator;help;tenant;add'= {
        }
        &'agentlocator;help;tenant;list'= {
        }
        &'agentlocator;help;tenant;show'= {
        }
        &'agentlocator;help;tenant;set'= {
        }
        &'agentlocator;help;tenant;token'= {
        }
        &'agentlocator;help;tenant;signing-secret'= {
        }
        &'agentlocator;help;tenant;pair'= {
        }
        &'agentlocator;help;tenant;logout'= {
        }
        &'agentlocator;help;tenant;remove'= {
        }
        &'agentlocator;help;check'= {
            cand go 'The four GO checks: /healthz, /version, /healthz/whatsapp, /readyz'
        }
        &'agentlocator;help;check;go'= {
        }
        &'agentlocator;help;sessions'= {
        }
        &'agentlocator;help;events'= {
            cand list 'The most recent events, oldest first'
            cand show 'One event, its data and every delivery attempt'
            cand replay 'Queue events again for delivery, keeping their ids (any state but held)'
            cand retry-dead 'Queue every dead event again (of one tenant, or of all)'
        }
        &'agentlocator;help;events;list'= {
        }
        &'agentlocator;help;events;show'= {
        }
        &'agentlocator;help;events;replay'= {
        }
        &'agentlocator;help;events;retry-dead'= {
        }
        &'agentlocator;help;db'= {
            cand status 'Which store the configuration names and its schema version'
            cand copy 'Copy a stopped SQLite deployment into an empty PostgreSQL database'
        }
        &'agentlocator;help;db;status'= {
        }
        &'agentlocator;help;db;copy'= {
        }
        &'agentlocator;help;cluster'= {
            cand status 'The nodes sharing the database: address, version, last heartbeat, tenants held, alive'
        }
        &'agentlocator;help;cluster;status'= {
        }
        &'agentlocator;help;completions'= {
        }
        &'agentlocator;help;help'= {
        }
    ]
    $completions[$command]
}
