#!/usr/bin/env bash
# Issue 13 (security hardening): runs each attack-named test by its exact name and fails if any
# of them is missing, renamed or skipped, so a regression cannot hide behind a deleted test.
# The full suite (`cargo test --all-features`) already runs them; this step pins that they exist.
set -euo pipefail
cd "$(dirname "$0")/.."

# target  test-name  (target "lib" is the crate's unit tests)
pinned=(
  # 1. plain http and redirects
  "client_transport_security a_302_answering_revoke_current_is_an_error_not_a_success"
  "client_transport_security a_redirect_never_carries_the_token_to_its_target"
  "client_transport_security an_operation_the_spec_leaves_unauthenticated_never_carries_the_token"
  "client_transport_security a_plain_http_base_url_to_a_remote_host_is_refused_before_any_request"
  "signin_hardening loopback_handshake_refuses_a_plain_http_platform_on_another_machine"
  "signin_hardening code_login_refuses_a_plain_http_platform_on_another_machine"
  # 2. release verifier
  "signing_verifier a_flood_from_one_version_does_not_block_another"
  "signing_verifier a_denied_version_is_refused_even_with_a_valid_signature"
  "signing_verifier a_timestamp_31_seconds_ahead_is_stale_so_future_nonces_cannot_pile_up"
  "signing_verifier a_forged_request_from_a_denied_version_is_refused_before_the_signatures_are_checked"
  "signing_verifier a_replay_with_a_forged_signature_is_refused_before_the_signatures_are_checked"
  # 3. local processes and the pending sign-in
  "handshake_listener a_local_process_flooding_forged_callbacks_cannot_end_the_sign_in"
  "handshake_listener a_dns_rebinding_page_cannot_complete_or_cancel_the_sign_in"
  "handshake_listener idle_connections_at_the_cap_cannot_crowd_out_the_genuine_callback"
  "handshake_listener a_browser_midway_through_its_request_outlives_a_flood_of_idle_connections"
  "handshake_paste pasted_url_with_a_wrong_state_is_refused_as_state_mismatch_and_the_sign_in_goes_on"
  # 4. the token-bearing URL
  "handshake_listener reloading_the_token_url_after_sign_in_hands_the_token_to_no_one"
  "handshake_listener port_is_closed_once_the_browser_has_loaded_the_done_page"
  # 5. Debug
  "signin_hardening an_opaque_token_without_a_wk_prefix_never_shows_in_debug_or_errors"
  "signin_hardening pending_handshake_debug_leaves_out_the_state_and_the_sign_in_url"
  "signin_hardening code_login_debug_leaves_out_the_state_and_the_url"
  "lib token::tests::an_opaque_token_with_a_late_underscore_shows_nothing_of_its_secret"
  "spec_driven a_code_exchange_response_never_shows_its_token_in_debug"
  "spec_driven a_code_exchange_request_never_shows_its_code_or_state_in_debug"
  # 6. dot-segment recording ids
  "recording_id_traversal a_dot_dot_recording_id_is_refused_before_any_request"
  "recording_id_traversal the_generated_bytes_operation_refuses_a_dot_segment_id_before_any_request"
  "recording_id_traversal emulator::the_emulator_refuses_dot_segment_recording_ids_with_400"
  # 8. emulator sign-in pages
  "dev_platform_signin a_cross_site_form_post_without_the_pages_csrf_token_cannot_approve"
  "dev_platform_signin a_dns_rebinding_page_cannot_load_the_sign_in_page_or_read_a_code"
  "dev_platform_signin a_dns_rebinding_page_cannot_post_a_decision_even_with_a_valid_csrf_token"
  # 9. tests that can fail
  "lib retry::tests::backoff_grows_exponentially_within_the_cap"
  "client_platform uploads_survive_injected_faults"
  # 10. the sans-IO sign-in core
  "lib signin::core::tests::a_forged_state_is_answered_400_and_decides_nothing"
  "lib signin::core::tests::a_dns_rebinding_host_cannot_deliver_the_callback"
  # issue 20 (Deliver 3): pre-auth limits of the mobile endpoint
  "mobile_transport_limits one_host_holding_idle_sockets_past_its_address_cap_cannot_lock_out_a_genuine_phone"
  "mobile_transport_limits a_host_past_its_address_cap_is_answered_busy_and_other_hosts_are_served"
  "mobile_transport_limits a_flood_of_refused_sockets_gets_a_bounded_number_of_refusals_and_the_rest_are_closed"
  "mobile_transport_limits a_handshake_message_over_the_pre_auth_cap_is_refused_before_pairing_but_not_after"
  "mobile_transport_limits accept_out_of_file_descriptors_backs_off_instead_of_spinning"
  "mobile_transport_limits the_connection_cap_answers_the_next_connection_busy"
  "mobile_transport_abuse a_thousand_idle_connections_leave_the_endpoint_serving_a_genuine_phone"
  "lib mobile::transport::desktop::accept::tests::running_out_of_descriptors_or_buffers_backs_off_and_other_accept_errors_do_not"
  "lib mobile::transport::read_ahead::tests::a_read_past_the_budget_fails_and_a_lifted_budget_reads_on"
  # issue 20 (Deliver 8): the persisted records
  "mobile_transport_records a_persisted_record_and_identity_never_show_their_secrets_in_debug"
  # 11. secure mode: Noise and its glue (issue 20)
  "mobile_noise_attacks a_recorded_session_stays_sealed_after_every_long_term_secret_leaks"
  "mobile_noise_attacks an_impostor_desktop_that_knows_the_qr_token_cannot_get_a_paired_phone_to_resume"
  "mobile_noise_attacks a_busy_desktop_is_read_as_busy_never_as_plain_by_a_securely_paired_phone"
  "mobile_noise_attacks a_device_known_as_secure_cannot_resume_plain_under_the_default_policy"
  "mobile_noise_attacks an_injected_unsealed_unpaired_rejection_toward_the_phone_costs_only_a_retryable_drop"
  "mobile_noise_attacks an_unauthenticated_unpaired_close_code_toward_the_phone_costs_only_a_retryable_drop"
  "mobile_noise_attacks an_unauthenticated_bad_input_close_code_toward_the_phone_costs_only_a_retryable_drop"
  "mobile_noise_attacks an_injected_unsealed_rejection_toward_the_desktop_costs_only_a_retryable_drop"
  "mobile_noise_attacks an_unauthenticated_close_code_toward_the_desktop_costs_only_a_retryable_drop"
  "mobile_noise_attacks a_forged_resume_report_request_is_refused_and_the_desktop_keeps_its_count"
  # issue 20, item 4: a LAN peer that cuts the link mid-utterance, or a raw peer, cannot leave
  # the desktop with a gap or an end without its start
  "mobile_transport_audio plain_an_utterance_cut_by_a_drop_arrives_whole_after_the_resume"
  "mobile_transport_audio secure_an_utterance_cut_by_a_drop_arrives_whole_after_the_resume"
  "mobile_transport_audio secure_an_utterance_cut_unnoticed_is_whole_or_cut_on_both_ends"
  "mobile_transport_audio an_utterance_longer_than_the_replay_buffer_is_cut_on_both_ends_across_a_drop"
  "mobile_transport_audio a_raw_peer_sending_audio_end_first_never_yields_an_audio_end_without_its_start"
)

for entry in "${pinned[@]}"; do
  target="${entry%% *}"
  name="${entry#* }"
  if [ "$target" = lib ]; then selector=(--lib); else selector=(--test "$target"); fi
  out="$(cargo test -q --all-features "${selector[@]}" -- --exact "$name" 2>&1)" || {
    printf '%s\n' "$out" >&2
    echo "hardening test failed: $target $name" >&2
    exit 1
  }
  if ! grep -q '1 passed' <<<"$out"; then
    printf '%s\n' "$out" >&2
    echo "hardening test did not run (missing or renamed): $target $name" >&2
    exit 1
  fi
done
echo "all ${#pinned[@]} hardening tests (issues 13 and 20) ran and passed"
