#!/usr/bin/perl
# minimal_worker.pl: a fourth durable worker, in core Perl 5.36 (JSON::PP and
# the psql client only), written from docs/protocol.md and
# test/conformance/README.md alone, without reading any SDK, the other
# minimal worker or the engine.  It shows that the protocol document is
# enough to write a worker in a new language.
#
#   perl minimal_worker.pl FIXTURE.json ...
#       offline: replay each fixture's history by the protocol's procedure
#       ("Replay"), run its script, and compare the commands (or the
#       non-determinism found) with "expect".
#   perl minimal_worker.pl --live DSN FIXTURE.json ...
#       live: play each fixture's story on a real engine through psql (start,
#       signals, cancels, failed and timed-out tasks as its history shows),
#       act as the worker until the run closes, and check the answers.
#
# Prints "ok N - name" / "not ok N - name: why", then "N passed, N failed";
# exits 0 only when every fixture passes.
use v5.36;
use JSON::PP;

my $J = JSON::PP->new->canonical->allow_nonref;

# ---- the script vocabulary, as a resumable interpreter ----------------------

# A run's state: what the applied events delivered, and where the script is.
sub new_run ($script) {
    return { stack => [[$script, 0]], vars => {}, args => undef, fired => {},
             results => {}, signals => [], cancel => 0, closed => 0, cur => undef,
             ntimer => 0, nact => 0, patches => {}, marked => {}, cmds => [] };
}

sub resolve ($w, $v) {
    if (ref $v eq 'HASH' && keys %$v == 1) {
        return ref $w->{args} eq 'ARRAY' ? $w->{args}[$v->{'$arg'}] : undef if exists $v->{'$arg'};
        return $w->{vars}{$v->{'$var'}} if exists $v->{'$var'};
    }
    return [map { resolve($w, $_) } @$v] if ref $v eq 'ARRAY';
    return $v;
}

sub emit ($w, %cmd) { push @{$w->{cmds}}, {%cmd}; }
sub close_run ($w, %cmd) { emit($w, %cmd); $w->{closed} = 1; }
sub advance ($w) { $w->{stack}[-1][1]++; $w->{cur} = undef; }

# Run the script until it blocks or closes; $cmd_events are the command
# events of this activation when it is replayed (undef when it runs new).
sub run_script ($w, $cmd_events) {
    while (!$w->{closed}) {
        my $top = $w->{stack}[-1] or return;
        my ($steps, $i) = @$top;
        if ($i >= @$steps) { pop @{$w->{stack}}; next; }
        my $s = $steps->[$i];
        my $op = $s->{op};
        if ($op eq 'sleep' || $op eq 'activity') {
            my $timer = $op eq 'sleep';
            if (!$w->{cur}) {
                if ($w->{cancel}) { close_run($w, type => 'cancel_workflow', details => undef); return; }
                if ($timer) {
                    $w->{cur} = ++$w->{ntimer} . '';
                    emit($w, type => 'start_timer', timer_id => $w->{cur}, duration => "$s->{seconds}s");
                } else {
                    $w->{cur} = ++$w->{nact} . '';
                    emit($w, type => 'schedule_activity', activity_id => $w->{cur},
                         activity_type => $s->{activity_type}, input => resolve($w, $s->{args}),
                         start_to_close_timeout => $s->{start_to_close_timeout});
                }
            }
            if ($timer && $w->{fired}{$w->{cur}}) { advance($w); next; }
            if (!$timer && exists $w->{results}{$w->{cur}}) {
                $w->{vars}{$s->{save_as}} = $w->{results}{$w->{cur}} if defined $s->{save_as};
                advance($w); next;
            }
            return unless $w->{cancel};
            emit($w, $timer ? (type => 'cancel_timer', timer_id => $w->{cur})
                            : (type => 'request_cancel_activity', activity_id => $w->{cur}));
            close_run($w, type => 'cancel_workflow', details => undef);
        } elsif ($op eq 'wait_signal') {
            my ($k) = grep { $w->{signals}[$_][0] eq $s->{signal_name} } 0 .. $#{$w->{signals}};
            if (defined $k) {
                my (undef, $input) = @{splice @{$w->{signals}}, $k, 1};
                $w->{vars}{$s->{save_as}} = ref $input eq 'ARRAY' ? $input->[0] : undef if defined $s->{save_as};
                advance($w); next;
            }
            return unless $w->{cancel};
            close_run($w, type => 'cancel_workflow', details => undef);
        } elsif ($op eq 'patched') {
            my $id = $s->{patch_id};
            # New activation: true; replay: true iff this activation recorded
            # the marker.  The first answer stands for the run.
            $w->{patches}{$id} //= !$cmd_events ? 1 : (grep {
                $_->{event_type} eq 'MarkerRecorded' && $_->{attributes}{marker_name} eq 'core_patch'
                && ($_->{attributes}{details}{patch_id} // '') eq $id } @$cmd_events) ? 1 : 0;
            if ($w->{patches}{$id} && !$w->{marked}{$id}++) {
                emit($w, type => 'record_marker', marker_name => 'core_patch',
                     details => { patch_id => $id, deprecated => JSON::PP::false });
            }
            advance($w);
            push @{$w->{stack}}, [$w->{patches}{$id} ? $s->{then} : $s->{else}, 0];
        } elsif ($op eq 'complete') {
            close_run($w, type => 'complete_workflow', result => resolve($w, $s->{result}));
        } elsif ($op eq 'continue_as_new') {
            close_run($w, type => 'continue_as_new', input => resolve($w, $s->{input}),
                      workflow_type => $s->{workflow_type});
        } else {
            die "unknown op $op\n";
        }
    }
}

# ---- replay (docs/protocol.md, "Replay") -------------------------------------

my %COMMAND_EVENT = map { $_ => 1 } qw(ActivityTaskScheduled ActivityTaskCancelRequested
    TimerStarted TimerCanceled MarkerRecorded UpsertWorkflowSearchAttributes
    StartChildWorkflowExecutionInitiated SignalExternalWorkflowExecutionInitiated
    RequestCancelExternalWorkflowExecutionInitiated WorkflowExecutionUpdateAccepted
    WorkflowExecutionUpdateCompleted WorkflowExecutionCompleted WorkflowExecutionFailed
    WorkflowExecutionCanceled WorkflowExecutionContinuedAsNew);

# Does command $c match command event $e?  ($by_id: events by event id.)
sub matches ($c, $e, $by_id) {
    my ($t, $a) = ($c->{type}, $e->{attributes});
    my %pair = (schedule_activity => 'ActivityTaskScheduled', start_timer => 'TimerStarted',
        cancel_timer => 'TimerCanceled', request_cancel_activity => 'ActivityTaskCancelRequested',
        record_marker => 'MarkerRecorded', complete_workflow => 'WorkflowExecutionCompleted',
        fail_workflow => 'WorkflowExecutionFailed', cancel_workflow => 'WorkflowExecutionCanceled',
        continue_as_new => 'WorkflowExecutionContinuedAsNew');
    return 0 unless ($pair{$t} // '') eq $e->{event_type};
    return $c->{activity_id} eq $a->{activity_id} && $c->{activity_type} eq $a->{activity_type}
        if $t eq 'schedule_activity';
    return $c->{timer_id} eq $a->{timer_id} if $t eq 'start_timer' || $t eq 'cancel_timer';
    return $c->{activity_id} eq ($by_id->{$a->{scheduled_event_id}}{attributes}{activity_id} // '')
        if $t eq 'request_cancel_activity';
    if ($t eq 'record_marker') {
        return 0 unless $c->{marker_name} eq $a->{marker_name};
        return $c->{marker_name} ne 'core_patch' || $c->{details}{patch_id} eq ($a->{details}{patch_id} // '');
    }
    return 1;
}

# Replay a whole history and run the current activation.  Returns
# {commands => [...]}, or {nde => event id, message => text}.
sub replay ($script, $h) {
    my %by_id = map { $_->{event_id} => $_ } @$h;
    my @b = grep { $h->[$_]{event_type} eq 'WorkflowTaskStarted'
                   && ($_ == $#$h || $h->[$_ + 1]{event_type} eq 'WorkflowTaskCompleted') } 0 .. $#$h;
    my $w = new_run($script);
    my $from = 0;
    for my $n (0 .. $#b) {
        for my $e (@$h[$from .. $b[$n]]) {                       # apply, in history order
            my ($t, $a) = ($e->{event_type}, $e->{attributes});
            if ($t eq 'WorkflowExecutionStarted') { $w->{args} = $a->{input}; }
            elsif ($t eq 'WorkflowExecutionSignaled') { push @{$w->{signals}}, [$a->{signal_name}, $a->{input}]; }
            elsif ($t eq 'WorkflowExecutionCancelRequested') { $w->{cancel} = 1; }
            elsif ($t eq 'TimerFired') { $w->{fired}{$a->{timer_id}} = 1; }
            elsif ($t eq 'ActivityTaskCompleted') {
                $w->{results}{$by_id{$a->{scheduled_event_id}}{attributes}{activity_id}} = $a->{result};
            }
        }
        $from = $b[$n] + 1;
        my $last = $n == $#b;
        my @ce = $last ? () : grep { $COMMAND_EVENT{$_->{event_type}} } @$h[$from .. $b[$n + 1]];
        $w->{cmds} = [];
        run_script($w, $last ? undef : \@ce);
        return { commands => $w->{cmds} } if $last;
        my @c = @{$w->{cmds}};                        # match its commands with its command events
        for my $k (0 .. ($#c > $#ce ? $#c : $#ce)) {
            my ($c, $e) = ($c[$k], $ce[$k]);
            next if $c && $e && matches($c, $e, \%by_id);
            return { nde => $e ? $e->{event_id} : $h->[$b[$n]]{event_id},
                     message => sprintf('command %s does not match event %s',
                         $c ? $c->{type} : '(none)', $e ? "$e->{event_id} $e->{event_type}" : '(none)') };
        }
    }
    die "history has no WorkflowTaskStarted\n";
}

# ---- comparing commands (README, "Comparing commands") ----------------------

my %DURATION = map { $_ => 1 } qw(duration schedule_to_close_timeout schedule_to_start_timeout
    start_to_close_timeout heartbeat_timeout execution_timeout run_timeout task_timeout
    backoff_start_interval initial_interval maximum_interval);

sub seconds ($d) { return $d =~ /^\s*([0-9.]+)\s*s?\s*$/ ? $1 + 0 : $d; }

sub norm ($v) {
    return { map { $_ => $DURATION{$_} && defined $v->{$_} && !ref $v->{$_} ? seconds($v->{$_}) : norm($v->{$_}) }
             keys %$v } if ref $v eq 'HASH';
    return [map { norm($_) } @$v] if ref $v eq 'ARRAY';
    return $v;
}

sub same ($x, $y) { return $J->encode(norm($x)) eq $J->encode(norm($y)); }

# ---- offline mode ------------------------------------------------------------

sub load ($file) {
    open my $fh, '<', $file or die "$file: $!\n";
    local $/;
    return decode_json(<$fh>);
}

sub offline ($f) {
    my $r = replay($f->{workflow}{script}, $f->{history});
    my $x = $f->{expect};
    if (my $want = $x->{fail_workflow_task}) {
        return 'completed, but expected NonDeterminismError' if $r->{commands};
        return "NonDeterminismError at event $r->{nde}, expected $want->{event_id}"
            if $r->{nde} != $want->{event_id};
        return '';
    }
    return "NonDeterminismError at event $r->{nde}: $r->{message}" if $r->{nde};
    return same($r->{commands}, $x->{complete_workflow_task}) ? ''
        : 'commands ' . $J->encode($r->{commands}) . ' expected ' . $J->encode($x->{complete_workflow_task});
}

# ---- live mode: play the fixture's story on a real engine --------------------

use IPC::Open3;
my ($DSN, %SCRIPT, %ACTIVITY);

# Run one statement through psql (autocommit); returns its output, or dies
# with psql's error.
sub sql ($q) {
    my $pid = open3(my $in, my $out, undef, 'psql', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-d', $DSN, '-c', $q);
    close $in;
    my $text = do { local $/; <$out> } // '';
    waitpid $pid, 0;
    die "psql: $text" if $?;
    chomp $text;
    return $text;
}
sub lit ($s) { return "'" . ($s =~ s/'/''/gr) . "'"; }      # a text literal
sub jlit ($v) { return lit($J->encode($v)); }                # a jsonb one
sub poll ($q, $kind) {
    my $row = sql("SELECT to_json(t) FROM durable.poll_task(${\lit($q)}, 'perl-minimal-worker', '{$kind}') t");
    return $row eq '' ? undef : decode_json($row);
}

# The commands that wrote a completed task's command events (the recorded,
# possibly older, code of the fixture's past tasks).
sub recorded ($e) {
    my ($t, $a) = ($e->{event_type}, $e->{attributes});
    return { type => 'schedule_activity', activity_id => $a->{activity_id}, activity_type => $a->{activity_type},
             input => $a->{input}, start_to_close_timeout => $a->{start_to_close_timeout} }
        if $t eq 'ActivityTaskScheduled';
    return { type => 'start_timer', timer_id => $a->{timer_id}, duration => $a->{start_to_fire_timeout} }
        if $t eq 'TimerStarted';
    return { type => 'record_marker', marker_name => $a->{marker_name}, details => $a->{details} }
        if $t eq 'MarkerRecorded';
    die "cannot re-send a $t\n";
}

sub live ($f) {
    my $h = $f->{history};
    my $id = "plw-$f->{name}-$$";
    # The story, per workflow task of the history (1, 2, ...): how it ended,
    # the command events it wrote, and the signals and cancel requests sent
    # after it (or while it ran, when they made its close unhandled).
    my (@fate, @cmds, @after, @during);
    my $task = 0;
    for my $k (0 .. $#$h) {
        my ($t, $a) = ($h->[$k]{event_type}, $h->[$k]{attributes});
        if ($t eq 'WorkflowTaskStarted') {
            my $next = $h->[$k + 1];
            $fate[++$task] = !$next ? 'final' : $next->{event_type} eq 'WorkflowTaskCompleted' ? 'recorded'
                : $next->{event_type} eq 'WorkflowTaskTimedOut' ? 'timeout' : "fail:$next->{attributes}{cause}";
            $cmds[$task] = [];
        } elsif ($COMMAND_EVENT{$t}) {
            push @{$cmds[$task]}, recorded($h->[$k]);
        } elsif ($t eq 'WorkflowExecutionSignaled' || $t eq 'WorkflowExecutionCancelRequested') {
            my $when = ($fate[$task] // '') eq 'fail:UnhandledCommand' ? \@during : \@after;
            push @{$when->[$task]}, $h->[$k];
        }
    }
    my $final = $task;
    my $answer = $f->{engine_answer} ? $f->{engine_answer}{outcome} : '';
    # unhandled-command: "a signal arrived while the task ran" (not in its history).
    push @{$during[$final]}, { event_type => 'WorkflowExecutionSignaled', attributes => { signal_name => 'late' } }
        if $answer eq 'unhandled_command';
    my $send = sub ($events) {
        for my $e (@{$events // []}) {
            my $a = $e->{attributes};
            sql($e->{event_type} eq 'WorkflowExecutionCancelRequested'
                ? "SELECT durable.cancel_workflow(${\lit($id)})"
                : "SELECT durable.signal_workflow(${\lit($id)}, ${\lit($a->{signal_name})}, ${\jlit($a->{input})})");
        }
    };

    my $started = $h->[0]{attributes};
    my $run = sql("SELECT durable.start_workflow(${\lit($started->{workflow_type})}, ${\jlit($started->{input})}, "
        . "${\lit($id)}, ${\lit($id)}, task_timeout => ${\lit($started->{workflow_task_timeout})})");
    $send->($after[0]);
    my ($n, @why, $nde) = (0);
    my ($deadline, $done) = (time + 60, 0);
    while (!$done && time < $deadline) {
        my $t = poll($id, 'workflow');
        if (!$t) {
            if (my $act = poll($id, 'activity')) {
                my $r = $ACTIVITY{$act->{activity_type} . $J->encode($act->{input})};
                sql("SELECT durable.complete_activity(${\lit($act->{task_token})}, ${\jlit($r)})");
                next;
            }
            $done = sql("SELECT status FROM durable.describe_workflow(${\lit($id)})") ne 'running';
            select undef, undef, undef, 0.2;
            next;
        }
        my $fate = $fate[++$n] // 'new';
        $send->($during[$n]);
        my $token = lit($t->{task_token});
        if ($fate eq 'recorded') {
            sql("SELECT durable.complete_workflow_task($token, ${\jlit($cmds[$n])})");
        } elsif ($fate =~ /^fail:(.*)/ && $1 ne 'UnhandledCommand') {
            sql("SELECT durable.fail_workflow_task($token, ${\jlit({ type => $1, message => 'as the fixture did' })})");
        } elsif ($fate ne 'timeout') {       # a timed-out task is left to time out
            my $script = $SCRIPT{$t->{workflow_type}} or return "no script for $t->{workflow_type}";
            my $r = eval { replay($script, $t->{history}) };
            if (!$r) {                       # the worker must not complete: procedure, step 6
                my $e = $@ =~ s/\s+$//r;
                sql("SELECT durable.fail_workflow_task($token, ${\jlit({ message => $e })})");
                return "error: $e";
            }
            if ($r->{nde}) {
                sql("SELECT durable.fail_workflow_task($token, " . jlit({ type => 'NonDeterminismError',
                    message => $r->{message}, details => { event_id => $r->{nde} } }) . ')');
                $nde = $done = $r->{nde};    # the engine retries the task; enough seen
            } else {
                my $got = decode_json(sql("SELECT durable.complete_workflow_task($token, ${\jlit($r->{commands})})"));
                my $want = $n == $final && $answer ? $answer
                    : $fate eq 'fail:UnhandledCommand' ? 'unhandled_command' : 'completed';
                push @why, "task $n answered $got->{outcome}, expected $want" if $got->{outcome} ne $want;
            }
        }
        $send->($after[$n]);
    }
    return 'the run did not close within 60 s' unless $done;
    # The run's history must be the fixture's, event type for event type.
    my @live = split /\n/, sql("SELECT event_type FROM durable.get_history(${\lit($id)}, ${\lit($run)}) ORDER BY event_id");
    my $want = join ' ', map { $_->{event_type} } @$h;
    push @why, "history (@live[0 .. $#$h]) is not the fixture's ($want)" if "@live[0 .. $#$h]" ne $want;
    my $x = $f->{expect}{fail_workflow_task};
    if ($nde) {     # the task failed NonDeterminismError, and the engine recorded it as the cause
        push @why, "NonDeterminismError at event $nde, expected " . ($x ? $x->{event_id} : 'none')
            if !$x || $nde != $x->{event_id};
        my $cause = sql("SELECT attributes->>'cause' FROM durable.get_history(${\lit($id)}, ${\lit($run)}) "
                        . "WHERE event_id = " . (@$h + 1) . " AND event_type = 'WorkflowTaskFailed'");
        push @why, 'no WorkflowTaskFailed NonDeterminismError after the task' if $cause ne 'NonDeterminismError';
        sql("SELECT durable.terminate_workflow(${\lit($id)}, 'conformance: non-determinism shown')");
        return join '; ', @why;
    }
    return 'completed, but expected NonDeterminismError' if $x;
    # It closes as the expected close command says (completed otherwise).
    my ($close) = grep { $_->{type} =~ /_workflow$/ } @{$f->{expect}{complete_workflow_task}};
    my ($status, $result) = split /\|/, sql("SELECT status, result FROM durable.describe_workflow(${\lit($id)})"), 2;
    my $want_status = $close && $close->{type} eq 'cancel_workflow' ? 'canceled' : 'completed';
    push @why, "the workflow closed $status, expected $want_status" if $status ne $want_status;
    push @why, "result $result, expected " . $J->encode($close->{result})
        if $close && $close->{type} eq 'complete_workflow' && !same(decode_json($result), $close->{result});
    return join '; ', @why;
}

# ---- main --------------------------------------------------------------------

my $dsn;
if (@ARGV && $ARGV[0] eq '--live') { (undef, $dsn) = splice @ARGV, 0, 2; }
die "usage: $0 [--live DSN] FIXTURE.json ...\n" unless @ARGV;
my @fixtures = map { load($_) } @ARGV;
if ($dsn) {     # the scripts by workflow type, and the activities' results, from all fixtures
    $DSN = $dsn;
    for my $f (@fixtures) {
        $SCRIPT{$f->{workflow}{workflow_type}} = $f->{workflow}{script};
        my %by_id = map { $_->{event_id} => $_ } @{$f->{history}};
        for my $e (grep { $_->{event_type} eq 'ActivityTaskCompleted' } @{$f->{history}}) {
            my $s = $by_id{$e->{attributes}{scheduled_event_id}}{attributes};
            $ACTIVITY{$s->{activity_type} . $J->encode($s->{input})} = $e->{attributes}{result};
        }
    }
}
my ($pass, $fail, $n) = (0, 0, 0);
for my $f (@fixtures) {
    my $why = eval { $dsn ? live($f) : offline($f) } // "error: " . ($@ =~ s/\s+$//r);
    $n++;
    if ($why eq '') { $pass++; say "ok $n - $f->{name}"; }
    else { $fail++; say "not ok $n - $f->{name}: $why"; }
}
say "$pass passed, $fail failed";
exit($fail || !$n ? 1 : 0);
