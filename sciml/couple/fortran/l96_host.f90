! A Fortran host: the resolved-scale (X-only) two-scale Lorenz96 model, time-stepped with RK4 in Fortran,
! calling an exported sciml closure for the unresolved coupling in every RK4 stage (the same scheme as
! sciml.sim.Lorenz96.step with a closure).
!
!   l96_host MODEL.pt K F DT STEPS INITIAL.txt OUTPUT.txt
!
! INITIAL.txt holds K values; OUTPUT.txt gets STEPS + 1 lines of K values (every state, the initial first).
! Prints the wall time per step. Exit status 1 with the closure's message when it fails.
program l96_host
  use, intrinsic :: iso_c_binding, only: c_double
  use sciml_couple
  implicit none
  type(sciml_model) :: model
  character(len=1024) :: model_path, initial_path, output_path, arg
  character(len=512) :: message
  integer :: k_size, steps, status, step, unit_in, unit_out, k
  real(c_double) :: forcing, dt
  real(c_double), allocatable :: x(:, :), k1(:, :), k2(:, :), k3(:, :), k4(:, :)
  integer(8) :: clock_start, clock_end, clock_rate

  if (command_argument_count() /= 7) then
    write (*, '(a)') "usage: l96_host MODEL.pt K F DT STEPS INITIAL.txt OUTPUT.txt"
    stop 2
  end if
  call get_command_argument(1, model_path)
  call get_command_argument(2, arg); read (arg, *) k_size
  call get_command_argument(3, arg); read (arg, *) forcing
  call get_command_argument(4, arg); read (arg, *) dt
  call get_command_argument(5, arg); read (arg, *) steps
  call get_command_argument(6, initial_path)
  call get_command_argument(7, output_path)

  call sciml_load_model(model, model_path, status, message)
  if (status /= SCIML_OK) then
    write (*, '(a, i0, 2a)') "error ", status, ": ", trim(message)
    stop 1
  end if
  allocate (x(k_size, 1), k1(k_size, 1), k2(k_size, 1), k3(k_size, 1), k4(k_size, 1))
  open (newunit=unit_in, file=initial_path, status="old", action="read")
  read (unit_in, *) x(:, 1)
  close (unit_in)
  open (newunit=unit_out, file=output_path, status="replace", action="write")
  write (unit_out, '(*(1x, es25.17e3))') x(:, 1)

  call system_clock(clock_start, clock_rate)
  do step = 1, steps
    call tendency(x, k1)
    call tendency(x + 0.5d0 * dt * k1, k2)
    call tendency(x + 0.5d0 * dt * k2, k3)
    call tendency(x + dt * k3, k4)
    x = x + dt / 6d0 * (k1 + 2d0 * k2 + 2d0 * k3 + k4)
    write (unit_out, '(*(1x, es25.17e3))') x(:, 1)
  end do
  call system_clock(clock_end)
  close (unit_out)
  write (*, '(a, es12.4)') "seconds per step: ", real(clock_end - clock_start, c_double) / clock_rate / steps
  call sciml_free_model(model)

contains

  ! dX_k/dt = (X_{k+1} - X_{k-2}) X_{k-1} - X_k + F + closure(X)_k, k periodic
  subroutine tendency(state, dxdt)
    real(c_double), intent(in) :: state(:, :)
    real(c_double), intent(out) :: dxdt(:, :)
    real(c_double), allocatable :: closure(:, :)
    allocate (closure(size(state, 1), size(state, 2)))
    call sciml_run_model(model, state, closure, status, message)
    if (status /= SCIML_OK) then
      write (*, '(a, i0, 2a)') "error ", status, ": ", trim(message)
      stop 1
    end if
    dxdt = (cshift(state, 1, 1) - cshift(state, -2, 1)) * cshift(state, -1, 1) - state + forcing + closure
  end subroutine tendency

end program l96_host
